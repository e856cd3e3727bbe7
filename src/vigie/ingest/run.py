"""What one ingestion run shares: per-source settings, per-thread workers, reports.

A source's chunks may be processed by several threads at once: each thread has its own DuckDB
cursor (its own temporary and lookup tables) over the run's shared database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vigie.config import SourceConfig
from vigie.ingest.enrich import Enricher
from vigie.sources.compile import CompiledFormat, sql_str
from vigie.sources.reader import LogFile
from vigie.sources.spec import FormatSpec
from vigie.warehouse.compact import CompactReport
from vigie.warehouse.daily import daily_rows
from vigie.warehouse.lake import FileState, Transaction

__all__ = ["FileReport", "ProgressHook", "RunReport", "SourceRun", "known_state"]

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
    """What one run did: per-file counts, the size of the directory snapshot, compaction."""

    files: list[FileReport] = field(default_factory=list)
    people: int | None = None
    directory_error: str | None = None
    compaction: CompactReport | None = None

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)


def known_state(file: LogFile, known: list[FileState]) -> FileState | None:
    """The catalogue entry of this file, whatever its current name (rotation)."""
    for state in known:
        if state.head_len <= len(file.head) and file.head_hash(state.head_len) == state.head_hash:
            return state
    return None


@dataclass
class SourceRun:
    """One source being ingested: its format, routing and the run-wide enrichment."""

    source: SourceConfig
    spec: FormatSpec
    compiled: CompiledFormat
    service_sql: str
    con: duckdb.DuckDBPyConnection
    make_enricher: Callable[[duckdb.DuckDBPyConnection], Enricher]
    timezone: str
    _local: threading.local = field(default_factory=threading.local)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the run's connection."""
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self.con.cursor()
        return cursor

    def _enricher(self, cursor: duckdb.DuckDBPyConnection) -> Enricher:
        """This thread's enricher, made once the chunk is parsed: the first one may wait for
        the run's directory snapshot, read meanwhile (`vigie.ingest.pipeline`)."""
        enricher: Enricher | None = getattr(self._local, "enricher", None)
        if enricher is None:
            enricher = self._local.enricher = self.make_enricher(cursor)
        return enricher

    def _write_partitions(self, events: pa.Table, tx: Transaction) -> None:
        """Writes the chunk's events and its daily rows, one file per (service, month).

        Both go in the same transaction, so the daily table always equals the aggregation of
        the events, even after a crash. A chunk touches few partitions, split by an Arrow
        filter; Arrow's Parquet writer releases the GIL, so chunks are written in parallel.
        """
        for table, rows in (("events", events), ("daily", daily_rows(events))):
            for (service, month), part in _partitions(rows):
                folder = tx.area(table) / f"service={service}" / f"month={month}"
                folder.mkdir(parents=True, exist_ok=True)
                _write_parquet(part.drop_columns(["service", "month"]),
                               folder / tx.part())

    def process(self, lines: pa.Table, tx: Transaction, *, origin: str,
                reference: datetime) -> tuple[int, int]:
        """Parses, enriches and stages one chunk of lines (or rows); returns (rows, quarantined).

        `origin` names where the lines come from in the quarantine (a file, a database);
        `reference` is when it was last written (the year of formats that have none).
        """
        con = self._cursor()
        con.register("raw_lines", lines)
        parsed = self.compiled.parse(con, "raw_lines", timezone=self.timezone,
                                     reference=reference)
        bad = parsed.num_rows - parsed.column("_reason").null_count
        rows = parsed.num_rows - bad
        if rows:
            self._write_partitions(self._enricher(con).events(
                parsed, service=self.service_sql, source=self.source.name,
                format_name=self.spec.name,
            ), tx)
        if bad:
            con.register("parsed", parsed.append_column("_near_day", near_days(parsed)))
            folder = tx.area("quarantine") / f"source={self.source.name}"
            folder.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY (SELECT {sql_str(origin)} AS file, line_no, byte_offset, "
                f"_reason AS reason, {sql_str(self.spec.name)} AS format, "
                "current_timestamp AS quarantined_at, _near_day AS near_day "
                "FROM parsed WHERE _reason IS NOT NULL "
                f"ORDER BY line_no) TO '{folder / tx.part()}' (FORMAT parquet)"
            )
            con.unregister("parsed")
        con.unregister("raw_lines")
        return int(rows), int(bad)


def near_days(parsed: pa.Table) -> pa.Array:
    """Each line's day, or for a line without one (a bad line) the day of the closest readable
    line before it in the log (after it, at the start of a chunk): the days a bad line stood
    among, so that the ingestion's health counts it with them rather than on the day it was
    read (a first run reads months of logs). Vectorized: a forward fill of row positions."""
    line_no = parsed.column("line_no").to_numpy()
    days = parsed.column("_day").combine_chunks()
    in_order = bool(np.all(line_no[1:] > line_no[:-1]))  # as parsing leaves them: no sort
    order = None if in_order else np.argsort(line_no, kind="stable")
    if order is not None:
        days = days.take(pa.array(order))
    valid = days.is_valid().to_numpy(zero_copy_only=False)
    if not valid.any():
        return pa.nulls(parsed.num_rows, pa.date32())
    last = np.maximum.accumulate(np.where(valid, np.arange(len(valid)), -1))
    last[last < 0] = np.argmax(valid)  # lines before the first readable one: the next one
    filled = days.take(pa.array(last))
    return filled if order is None else filled.take(pa.array(np.argsort(order, kind="stable")))


#: Columns whose every value differs, or nearly: a dictionary would only be tried and dropped.
_UNIQUE_COLUMNS = frozenset({"ts"})
#: Columns whose min/max readers use to skip files (periods); string statistics cost a lot.
_STATISTICS = ["ts", "day"]
#: Room for the dictionary of a column chunk: the pseudonyms of a chunk (tens of thousands of
#: people, 32 bytes each) fit, and a person's events then cost an index instead of 32 bytes
#: (an events file is half as large); past it, the writer falls back to plain values.
_DICTIONARY_BYTES = 8 << 20
#: A dictionary array gathered from a run's lookup (the pseudonyms met so far) is cut to the
#: values its rows use before writing, past this size: the file stores the dictionary.
_TRIMMED_DICTIONARY = 1024


def _write_parquet(rows: pa.Table, path: Path) -> None:
    """One Parquet file of the lake, zstd-compressed, with the encodings that pay off."""
    pq.write_table(
        # Without the Arrow schema, files say "string" whether a column was gathered as a
        # dictionary or not: every reader sees the same types in every file.
        _trimmed(rows), path, compression="zstd", store_schema=False,
        use_dictionary=[c for c in rows.column_names if c not in _UNIQUE_COLUMNS],
        dictionary_pagesize_limit=_DICTIONARY_BYTES,
        write_statistics=[c for c in _STATISTICS if c in rows.column_names],
    )


def _trimmed(rows: pa.Table) -> pa.Table:
    """`rows` with each large dictionary cut to the values used (indices remapped)."""
    for i, kind in enumerate(rows.schema):
        column = rows.column(i)
        if not pa.types.is_dictionary(kind.type) or column.num_chunks != 1:
            continue
        encoded = column.chunk(0)
        if len(encoded.dictionary) <= _TRIMMED_DICTIONARY:
            continue
        used = pc.unique(encoded.indices).drop_null()
        remap = np.zeros(len(encoded.dictionary), np.int32)
        remap[used.to_numpy()] = np.arange(len(used), dtype=np.int32)
        indices = pa.array(remap, pa.int32()).take(encoded.indices)
        rows = rows.set_column(i, kind, pa.DictionaryArray.from_arrays(
            indices, encoded.dictionary.take(used)))
    return rows


def _partitions(rows: pa.Table) -> Iterator[tuple[tuple[str, str], pa.Table]]:
    """The rows of each (service, month) of a table; usually one, with no copy.

    Rows are told apart by integer codes (a service's and a month's position among the
    chunk's), not by hashing their text: a chunk of a log usually holds one partition.
    """
    services, service_codes = _codes(rows.column("service"))
    months, month_codes = _codes(rows.column("month"))
    keys = pc.add(pc.multiply(service_codes, len(months)), month_codes)
    bounds = pc.min_max(keys)
    if bounds["min"].as_py() == bounds["max"].as_py():
        key = bounds["min"].as_py()
        yield (services[key // len(months)], months[key % len(months)]), rows
        return
    for key in pc.unique(keys).to_pylist():
        yield ((services[key // len(months)], months[key % len(months)]),
               rows.filter(pc.equal(keys, key)))


def _codes(column: pa.ChunkedArray) -> tuple[list[str], pa.Array]:
    """The distinct texts of a column and each row's position among them (int64)."""
    encoded = pc.dictionary_encode(column.combine_chunks())  # as is, if it already was
    texts = pc.dictionary_encode(encoded.dictionary)  # a gathered one may repeat a text
    return texts.dictionary.to_pylist(), pc.cast(texts.indices.take(encoded.indices), pa.int64())
