"""What one ingestion run shares: per-source settings, per-thread workers, reports.

A source's chunks may be processed by several threads at once: each thread has its own DuckDB
cursor (its own temporary and lookup tables) over the run's shared database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from vigie.config import SourceConfig
from vigie.ingest.enrich import Enricher
from vigie.sources.compile import CompiledFormat, sql_str
from vigie.sources.reader import LogFile
from vigie.sources.spec import FormatSpec
from vigie.warehouse.daily import daily_sql
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
    """What one run did: per-file counts and the size of the directory snapshot."""

    files: list[FileReport] = field(default_factory=list)
    people: int | None = None
    directory_error: str | None = None

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

    def _worker(self) -> tuple[duckdb.DuckDBPyConnection, Enricher]:
        worker: tuple[duckdb.DuckDBPyConnection, Enricher] | None = getattr(
            self._local, "worker", None)
        if worker is None:
            cursor = self.con.cursor()
            worker = self._local.worker = (cursor, self.make_enricher(cursor))
        return worker

    def _write_partitions(self, con: duckdb.DuckDBPyConnection, events: str,
                          tx: Transaction) -> None:
        """Writes the chunk's events and its daily rows, one file per (service, month).

        Both go in the same transaction, so the daily table always equals the aggregation of
        the events, even after a crash. A chunk touches few partitions; plain writes of each
        are about twice as fast as DuckDB's partitioned COPY.
        """
        con.execute(f"CREATE OR REPLACE TEMP TABLE enriched AS {events}")
        first, last = con.execute(
            "SELECT strftime(min(_local), '%Y-%m'), strftime(max(_local), '%Y-%m') "
            "FROM parsed WHERE _reason IS NULL"
        ).fetchall()[0]
        service = self.source.service if not self.source.routes else None
        if service is not None and first == last:  # the usual case: no need to split
            partitions = [(service, first, "enriched")]
        else:
            partitions = [
                (s, m, f"(SELECT * FROM enriched WHERE service = {sql_str(s)} "
                       f"AND month = {sql_str(m)})")
                for s, m in con.execute(
                    "SELECT DISTINCT service, month FROM enriched").fetchall()
            ]
        for service, month, rows in partitions:
            for table, query in (("events", f"SELECT * EXCLUDE (service, month) FROM {rows}"),
                                 ("daily", daily_sql(rows))):
                folder = tx.area(table) / f"service={service}" / f"month={month}"
                folder.mkdir(parents=True, exist_ok=True)
                con.execute(
                    f"COPY ({query}) TO '{folder}/part-{tx.id}.parquet' "
                    "(FORMAT parquet, COMPRESSION zstd)"
                )

    def process(self, lines: pa.Table, tx: Transaction, *, origin: str,
                reference: datetime) -> tuple[int, int]:
        """Parses, enriches and stages one chunk of lines (or rows); returns (rows, quarantined).

        `origin` names where the lines come from in the quarantine (a file, a database);
        `reference` is when it was last written (the year of formats that have none).
        """
        con, enricher = self._worker()
        con.register("raw_lines", lines)
        query = self.compiled.query("raw_lines", timezone=self.timezone, reference=reference)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE parsed AS SELECT *, "
            f"timezone({sql_str(self.timezone)}, ts) AS _local FROM ({query})"
        )
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
            self._write_partitions(con, events, tx)
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
