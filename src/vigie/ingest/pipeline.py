"""`vigie ingest`: every source's new lines, parsed, enriched and committed to the lake.

Each chunk of a file is one lake transaction that also records, in the catalogue, how far the
file has been read: rerunning on the same files adds nothing, a grown file is read from where it
stopped, and a run killed at any point is finished or forgotten by the next one. A file that
cannot be read is reported and skipped; the others go on.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from vigie.config import Config, SourceConfig, password_from_env
from vigie.errors import SourceError, VigieError
from vigie.ingest.directory import load_people, snapshot_directory
from vigie.ingest.enrich import Enricher, route_sql
from vigie.ingest.traces import ingest_traces, load_traces
from vigie.privacy.pseudonym import Pseudonymizer
from vigie.referential.network import ZonePlan
from vigie.sources.compile import CompiledFormat, compile_format, sql_str
from vigie.sources.moodle import read_logstore_csv, read_logstore_db
from vigie.sources.reader import Chunk, LogFile, discover, fingerprint, read_chunks
from vigie.sources.spec import FormatSpec, available_formats, resolve
from vigie.warehouse.lake import FileState, Lake, Transaction

__all__ = ["FileReport", "RunReport", "ingest"]

#: Chunks of one file processed at once (reading and DuckDB overlap on two cores).
_IN_FLIGHT = 2

#: Called after each chunk with (source name, file path, bytes read in this chunk).
ProgressHook = Callable[[str, Path, int], None]


@dataclass
class FileReport:
    """What one run did with one file."""

    source: str
    path: Path
    rows: int = 0
    quarantined: int = 0
    error: str | None = None


@dataclass
class RunReport:
    """What one run did: per-file counts and the size of the directory snapshot."""

    files: list[FileReport] = field(default_factory=list)
    people: int | None = None

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)


@contextmanager
def _exclusive(lake: Lake) -> Iterator[None]:
    """One ingestion at a time per lake (cron runs may overlap)."""
    with (lake.meta / "ingest.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VigieError(
                f"another `vigie ingest` is running on {lake.root}; wait for it to finish"
            ) from None
        yield


def _match(file: LogFile, known: list[FileState]) -> FileState | None:
    """The catalogue entry of this file, whatever its current name (rotation)."""
    for state in known:
        if state.head_len <= len(file.head) and file.head_hash(state.head_len) == state.head_hash:
            return state
    return None


@dataclass
class _SourceRun:
    """One source being ingested: its format, routing and the run-wide enrichment.

    Chunks may be processed by several threads at once: each thread has its own DuckDB cursor
    (its own temporary tables and lookup tables) over the run's shared database.
    """

    source: SourceConfig
    spec: FormatSpec
    compiled: CompiledFormat
    service_sql: str
    con: duckdb.DuckDBPyConnection
    make_enricher: Callable[[duckdb.DuckDBPyConnection], Enricher]
    timezone: str
    _local: threading.local = field(default_factory=threading.local)

    def _worker(self) -> tuple[duckdb.DuckDBPyConnection, Enricher]:
        worker: tuple[duckdb.DuckDBPyConnection, Enricher] | None = getattr(
            self._local, "worker", None)
        if worker is None:
            cursor = self.con.cursor()
            worker = self._local.worker = (cursor, self.make_enricher(cursor))
        return worker

    def process(self, lines: pa.Table, tx: Transaction, *, origin: str,
                reference: datetime) -> tuple[int, int]:
        """Parses, enriches and stages one chunk of lines (or rows); returns (rows, quarantined).

        `origin` names where the lines come from in the quarantine (a file, a database);
        `reference` is when it was last written (the year of formats that have none).
        """
        con, enricher = self._worker()
        con.register("raw_lines", lines)
        query = self.compiled.query("raw_lines", timezone=self.timezone, reference=reference)
        con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {query}")
        rows, bad = con.execute(
            "SELECT count(*) FILTER (_reason IS NULL), count(*) FILTER (_reason IS NOT NULL) "
            "FROM parsed"
        ).fetchall()[0]
        if rows:
            enricher.prepare_dimensions("parsed")
            events = enricher.events_sql(
                "parsed", service=self.service_sql, source=self.source.name,
                format_name=self.spec.name,
            )
            con.execute(
                f"COPY ({events}) TO '{tx.area('events')}' (FORMAT parquet, "
                f"PARTITION_BY (service, month), FILENAME_PATTERN 'part-{tx.id}-{{i}}', "
                "COMPRESSION zstd, OVERWRITE_OR_IGNORE true)"
            )
        if bad:
            folder = tx.area("quarantine") / f"source={self.source.name}"
            folder.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY (SELECT {sql_str(origin)} AS file, line_no, byte_offset, "
                f"_reason AS reason, {sql_str(self.spec.name)} AS format, "
                "current_timestamp AS quarantined_at FROM parsed WHERE _reason IS NOT NULL "
                f"ORDER BY line_no) TO '{folder}/part-{tx.id}.parquet' (FORMAT parquet)"
            )
        con.unregister("raw_lines")
        return int(rows), int(bad)


def _pending_record(run: _SourceRun, chunk: Chunk, *, final: bool) -> Chunk:
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


def _ingest_file(
    run: _SourceRun, lake: Lake, path: Path, report: FileReport, chunk_bytes: int,
    progress: ProgressHook | None, pool: ThreadPoolExecutor,
) -> None:
    file = fingerprint(path)
    if not file.head:
        return
    state = _match(file, lake.known_files(run.source.name))
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
            if len(in_flight) >= _IN_FLIGHT:
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

    run: _SourceRun
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


def _ingest_records(run: _SourceRun, state: _FileProgress, chunk_bytes: int, line_no: int,
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


def _ingest_database(run: _SourceRun, lake: Lake, report: FileReport) -> None:
    """Moodle's log table, from the cursor of the previous run, one window per transaction."""
    settings = run.source.database
    assert settings is not None
    password = password_from_env(
        settings.password_env, key=f"sources ({run.source.name}).database.password_env")
    cursor = lake.cursor(run.source.name)
    position, total = cursor if cursor else ("0,0", 0)
    after = tuple(int(v) for v in position.split(","))
    for table, (seconds, row_id) in read_logstore_db(
        settings.uri, password=password, prefix=settings.prefix, after=(after[0], after[1]),
        batch_seconds=settings.batch_seconds,
    ):
        with lake.transaction() as tx:
            rows, bad = run.process(table, tx, origin=f"database of source {run.source.name}",
                                    reference=datetime.now(UTC))
            total += rows
            tx.cursors[run.source.name] = (f"{seconds},{row_id}", total)
        report.rows += rows
        report.quarantined += bad


def _ingest_export(run: _SourceRun, lake: Lake, path: Path, report: FileReport,
                   base: Path) -> None:
    """A CSV export of Moodle's log table: read whole, once (an export does not grow)."""
    file = fingerprint(path)
    if not file.head or _match(file, lake.known_files(run.source.name)):
        return
    users = run.source.users_csv
    rows_table, rejects = read_logstore_csv(
        path, users_csv=None if users is None else (base / users if not Path(users).is_absolute()
                                                    else Path(users)))
    with lake.transaction() as tx:
        rows, bad = run.process(rows_table, tx, origin=str(path),
                                reference=datetime.fromtimestamp(file.mtime, tz=UTC))
        if rejects.num_rows:
            folder = tx.area("quarantine") / f"source={run.source.name}"
            folder.mkdir(parents=True, exist_ok=True)
            run.con.register("_rejects", rejects)
            run.con.execute(
                f"COPY (SELECT {sql_str(str(path))} AS file, line_no, 0::BIGINT AS byte_offset, "
                f"reason, {sql_str(run.spec.name)} AS format, current_timestamp AS "
                f"quarantined_at FROM _rejects) TO '{folder}/part-{tx.id}-rejects.parquet' "
                "(FORMAT parquet)"
            ).fetchall()
            run.con.unregister("_rejects")
            bad += rejects.num_rows
        size = path.stat().st_size
        tx.files.append(FileState(run.source.name, file.head_hash(), len(file.head), str(path),
                                  size, rows + bad, rows, bad))
    report.rows += rows
    report.quarantined += bad


def _apply_retention(config: Config, lake: Lake) -> None:
    months = config.vigie.retention_months
    if months is None:
        return
    today = datetime.now(ZoneInfo(config.vigie.timezone)).date()
    index = today.year * 12 + today.month - 1 - months
    oldest = f"{index // 12:04d}-{index % 12 + 1:02d}"
    expired = [
        p for p in lake.table("events").glob("service=*/month=*")
        if p.name.removeprefix("month=") < oldest
    ]
    if expired:
        with lake.transaction() as tx:
            for folder in expired:
                tx.drop(str(folder.relative_to(lake.root)))


def ingest(
    config: Config,
    *,
    secret: bytes,
    snapshot_date: date | None = None,
    progress: ProgressHook | None = None,
    sources: list[str] | None = None,
) -> RunReport:
    """Runs one ingestion of the configured sources (all, or those named)."""
    lake = Lake(config.lake_path)
    report = RunReport()
    try:
        with _exclusive(lake), ExitStack() as stack:
            formats = available_formats(config.formats)
            con = duckdb.connect()
            con.execute(f"SET threads = {os.cpu_count() or 2}")
            pseudonymizer = Pseudonymizer(secret)
            tz = config.vigie.timezone
            if config.directory is not None:
                today = snapshot_date or datetime.now(ZoneInfo(tz)).date()
                report.people = snapshot_directory(config, lake, con, pseudonymizer, on=today)
            load_people(lake, con)
            for failed, error in ingest_traces(config, lake, con, pseudonymizer,
                                               chunk_bytes=config.vigie.chunk_mb << 20):
                report.files.append(FileReport("cas traces", Path(failed), error=error))
            load_traces(lake, con)
            zones = ZonePlan(config.network)

            def make_enricher(cursor: duckdb.DuckDBPyConnection) -> Enricher:
                return Enricher(cursor, tz, config.vigie.school_zone, zones, pseudonymizer)

            pool = ThreadPoolExecutor(max_workers=_IN_FLIGHT, thread_name_prefix="vigie-chunk")
            stack.callback(pool.shutdown)
            selected = [s for s in config.sources if sources is None or s.name in sources]
            for source in selected:
                spec = resolve(source.format, formats)
                unused = frozenset(
                    ({"target"} if not source.routes else set())
                    | ({"trace"} if not config.traces else set())
                )
                run = _SourceRun(
                    source, spec, compile_format(spec, omit=unused),
                    route_sql(source.routes, fixed=source.service,
                              default=source.default_service),
                    con, make_enricher, tz,
                )
                if source.database is not None:
                    db_report = FileReport(source.name, Path(f"database:{source.name}"))
                    report.files.append(db_report)
                    try:
                        _ingest_database(run, lake, db_report)
                    except (VigieError, duckdb.Error, OSError, ValueError) as exc:
                        db_report.error = str(exc).splitlines()[0]
                for path in discover(source.paths, config.base_dir):
                    file_report = FileReport(source.name, path)
                    report.files.append(file_report)
                    try:
                        if spec.kind == "table":
                            _ingest_export(run, lake, path, file_report, config.base_dir)
                        else:
                            _ingest_file(run, lake, path, file_report,
                                         config.vigie.chunk_mb << 20, progress, pool)
                    except (SourceError, duckdb.Error, OSError, ValueError) as exc:
                        file_report.error = str(exc).splitlines()[0]
            _apply_retention(config, lake)
    finally:
        lake.close()
    return report
