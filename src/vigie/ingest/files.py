"""Log files: read by chunks from where the last run stopped, committed in file order."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from vigie.ingest.run import FileReport, ProgressHook, SourceRun, known_state
from vigie.sources.compile import sql_str
from vigie.sources.reader import Chunk, LogFile, fingerprint, read_chunks
from vigie.warehouse.lake import FileState, Lake, Transaction

__all__ = ["IN_FLIGHT", "ingest_file"]

#: Chunks of one file processed at once (reading and DuckDB overlap on two cores).
IN_FLIGHT = 3


def _pending_record(run: SourceRun, chunk: Chunk, *, final: bool) -> Chunk:
    """For multi-line formats, keeps the last record out of the chunk if it may be incomplete."""
    spec = run.spec
    if spec.kind != "multiline" or spec.record_start is None:
        return chunk
    run.con.register("raw_lines", chunk.lines)
    last = run.con.execute(
        "SELECT max(byte_offset), max(line_no) FILTER (regexp_matches(line, "
        f"{sql_str(spec.record_start)})) FROM raw_lines WHERE regexp_matches(line, "
        f"{sql_str(spec.record_start)})"
    ).fetchall()[0]
    closing = run.con.execute(
        "SELECT line FROM raw_lines WHERE trim(line) <> '' "
        "ORDER BY line_no DESC LIMIT 1"
    ).fetchall()[0]
    run.con.unregister("raw_lines")
    if last is None or last[0] is None:
        return chunk
    closed = (
        spec.record_end is not None and bool(closing)
        and run.con.execute(
            "SELECT regexp_matches(?, ?)", [closing[0][0], spec.record_end]
        ).fetchall() == [(True,)]
    )
    if closed or (final and chunk.file.compressed):
        return chunk
    start_offset, start_line = int(last[0]), int(last[1])
    kept = chunk.lines.filter(pa.compute.less(chunk.lines.column("line_no"), start_line))
    return Chunk(chunk.file, chunk.start_offset, start_offset, start_line - 1, kept, False)


def ingest_file(
    run: SourceRun, lake: Lake, path: Path, report: FileReport, chunk_bytes: int,
    progress: ProgressHook | None, pool: ThreadPoolExecutor,
) -> None:
    file = fingerprint(path)
    if not file.head:
        return
    state = known_state(file, lake.known_files(run.source.name))
    progress_state = _FileProgress(
        run, lake, file, report, progress,
        offset=state.offset if state else 0, rows=state.rows if state else 0,
        quarantined=state.quarantined if state else 0,
    )
    line_no = state.lines if state else 0
    reference = datetime.fromtimestamp(file.mtime, tz=UTC)
    if run.spec.kind == "multiline":
        _ingest_records(run, progress_state, chunk_bytes, line_no, reference)
        return
    # Two chunks in flight: while one is in DuckDB, the next is read and prepared; commits
    # happen in file order, so the catalogue's offset always follows committed data.
    in_flight: deque[tuple[Chunk, Future[tuple[Transaction, int, int]]]] = deque()

    def stage(chunk: Chunk) -> tuple[Transaction, int, int]:
        tx = lake.begin()
        try:
            rows, bad = run.process(chunk.lines, tx, origin=str(path), reference=reference)
        except BaseException:
            lake.abort(tx)
            raise
        return tx, rows, bad

    try:
        for chunk in read_chunks(file, offset=progress_state.offset, line_no=line_no,
                                 chunk_bytes=chunk_bytes, encoding=run.source.encoding):
            in_flight.append((chunk, pool.submit(stage, chunk)))
            if len(in_flight) >= IN_FLIGHT:
                done, future = in_flight.popleft()
                progress_state.commit(done, *future.result())
        while in_flight:
            done, future = in_flight.popleft()
            progress_state.commit(done, *future.result())
    finally:
        for _, future in in_flight:  # after an error: forget what was staged
            with suppress(BaseException):
                lake.abort(future.result()[0])


@dataclass
class _FileProgress:
    """Where a file's ingestion stands; commits staged chunks in order."""

    run: SourceRun
    lake: Lake
    file: LogFile
    report: FileReport
    hook: ProgressHook | None
    offset: int
    rows: int
    quarantined: int

    def commit(self, chunk: Chunk, tx: Transaction, rows: int, bad: int) -> None:
        self.rows += rows
        self.quarantined += bad
        head_len = len(self.file.head)
        tx.files.append(FileState(
            self.run.source.name, self.file.head_hash(head_len), head_len,
            str(self.file.path), chunk.end_offset, chunk.end_line, self.rows, self.quarantined,
        ))
        self.lake.commit(tx)
        self.report.rows += rows
        self.report.quarantined += bad
        if self.hook is not None:
            self.hook(self.run.source.name, self.file.path, chunk.end_offset - self.offset)
        self.offset = chunk.end_offset


def _ingest_records(run: SourceRun, state: _FileProgress, chunk_bytes: int, line_no: int,
                    reference: datetime) -> None:
    """Multi-line records, one chunk at a time: a record cut by the chunk's end is re-read."""
    restart = True
    while restart:
        restart = False
        for chunk in read_chunks(state.file, offset=state.offset, line_no=line_no,
                                 chunk_bytes=chunk_bytes, encoding=run.source.encoding):
            kept = _pending_record(run, chunk, final=chunk.at_end)
            if kept.end_offset <= state.offset:
                break  # a single record still being written: wait for the next run
            tx = state.lake.begin()
            try:
                rows, bad = (run.process(kept.lines, tx, origin=str(state.file.path),
                                         reference=reference)
                             if kept.lines.num_rows else (0, 0))
            except BaseException:
                state.lake.abort(tx)
                raise
            state.commit(kept, tx, rows, bad)
            line_no = kept.end_line
            if kept is not chunk:
                restart = True  # re-read from the start of the held-back record
                break
