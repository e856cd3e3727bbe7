"""`vigie ingest`: every source's new lines, parsed, enriched and committed to the lake.

Each chunk of a file is one lake transaction that also records, in the catalogue, how far the
file has been read: rerunning on the same files adds nothing, a grown file is read from where it
stopped, and a run killed at any point is finished or forgotten by the next one. A file that
cannot be read is reported and skipped; the others go on.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from vigie.config import Config
from vigie.errors import SourceError, VigieError
from vigie.ingest.directory import load_people, read_snapshot, write_snapshot
from vigie.ingest.enrich import Dimensions, Enricher, route_sql
from vigie.ingest.files import IN_FLIGHT, ingest_file
from vigie.ingest.run import FileReport, ProgressHook, RunReport, SourceRun
from vigie.ingest.tables import ingest_database, ingest_export
from vigie.ingest.traces import ingest_traces, load_traces
from vigie.privacy.pseudonym import Pseudonymizer
from vigie.referential.network import ZonePlan
from vigie.sources.compile import compile_format
from vigie.sources.reader import discover
from vigie.sources.spec import available_formats, resolve
from vigie.warehouse.compact import CompactReport, compact, shift_month
from vigie.warehouse.lake import Lake

__all__ = ["FileReport", "RunReport", "compact_lake", "ingest", "oldest_month"]


def oldest_month(config: Config) -> str | None:
    """The first month `retention_months` keeps (`YYYY-MM`), None to keep everything."""
    months = config.vigie.retention_months
    if months is None:
        return None
    today = datetime.now(ZoneInfo(config.vigie.timezone)).date()
    return shift_month(f"{today:%Y-%m}", -months)


def compact_lake(config: Config) -> CompactReport:
    """`vigie compact`: what `ingest` does last, alone (a lake written by an older vigie, or
    a run that stopped before it)."""
    lake = Lake(config.lake_path)
    try:
        return compact(lake, oldest=oldest_month(config))
    finally:
        lake.close()


class _Startup:
    """The run's enrichment dimensions, built once, when the first chunk needs them.

    Why not first thing: reading a large directory is Python (an LDIF of 54,000 people and
    their pseudonyms: about 0.5 s, a twentieth of a 10 M-line run), during which the first
    chunks of logs can already be read and parsed (DuckDB works without the GIL). So the
    directory is read in a background thread from the start (`read_snapshot`, which touches
    nothing of the lake); the first chunk that needs the dimensions writes the snapshot and
    builds them, the others wait, and all of it happens before any chunk is committed, since
    each chunk is enriched before it is committed: the lake's transactions still follow one
    another. The main thread calls `dimensions` once more at the end, so that a run without
    new lines takes its snapshot.
    """

    def __init__(self, config: Config, lake: Lake, con: duckdb.DuckDBPyConnection,
                 pseudonymizer: Pseudonymizer, report: RunReport, today: date,
                 reader: ThreadPoolExecutor) -> None:
        self.config, self.lake, self.con = config, lake, con
        self.pseudonymizer, self.report, self.today = pseudonymizer, report, today
        self._read = (reader.submit(read_snapshot, config, pseudonymizer)
                      if config.directory is not None else None)
        self._lock = threading.Lock()
        self._dimensions: Dimensions | None = None

    def dimensions(self) -> Dimensions:
        with self._lock:
            if self._dimensions is None:
                self._dimensions = self._build()
            return self._dimensions

    def _build(self) -> Dimensions:
        if self._read is not None:
            try:
                self.report.people = write_snapshot(self.config, self.lake, self.con,
                                                    self._read.result(), on=self.today)
            except SourceError as exc:
                # The directory being unreachable must not stop the logs: events are
                # enriched with the latest snapshot already in the lake, and it is said.
                self.report.directory_error = str(exc)
        return Dimensions.create(self.pseudonymizer, ZonePlan(self.config.network),
                                 self.config.vigie.school_zone,
                                 people=load_people(self.lake, self.con),
                                 traces=load_traces(self.lake, self.con))


@contextmanager
def _rare_collections() -> Iterator[None]:
    """Python's cycle collector, rarely during a run.

    Reading the directory creates millions of small objects (an LDIF of 54,000 people), and
    every 700 allocations Python scans the young ones, every so often all of them: 3 to 4 % of
    a 10 M-line run's CPU, for cycles a run hardly makes (its data lives in Arrow buffers, which
    reference counting frees). A higher threshold keeps the collector, and the run's memory
    bounded, at a hundredth of the scans.
    """
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def ingest(
    config: Config,
    *,
    secret: bytes,
    snapshot_date: date | None = None,
    progress: ProgressHook | None = None,
    sources: list[str] | None = None,
    compact_after: bool = True,
) -> RunReport:
    """Runs one ingestion of the configured sources (all, or those named), then compacts the
    lake unless `compact_after` is false (an installation ingesting every few minutes may
    compact less often: the dashboards stay exact in between, only slower)."""
    lake = Lake(config.lake_path)
    report = RunReport()
    try:
        with ExitStack() as stack:
            stack.enter_context(_rare_collections())
            formats = available_formats(config.formats)
            con = duckdb.connect()
            # Chunks in flight share the cores: more threads per query only add contention.
            con.execute(f"SET threads = {max(1, (os.cpu_count() or 2) // IN_FLIGHT)}")
            pseudonymizer = Pseudonymizer(secret)
            tz = config.vigie.timezone
            reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigie-directory")
            stack.callback(reader.shutdown)
            startup = _Startup(config, lake, con.cursor(), pseudonymizer, report,
                               snapshot_date or datetime.now(ZoneInfo(tz)).date(), reader)
            for failed, error in ingest_traces(config, lake, con, pseudonymizer,
                                               chunk_bytes=config.vigie.chunk_mb << 20):
                report.files.append(FileReport("cas traces", Path(failed), error=error))

            def make_enricher(cursor: duckdb.DuckDBPyConnection) -> Enricher:
                return Enricher(cursor, startup.dimensions())

            pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="vigie-chunk")
            stack.callback(pool.shutdown)
            selected = [s for s in config.sources if sources is None or s.name in sources]
            for source in selected:
                spec = resolve(source.format, formats)
                unused = frozenset(
                    ({"target"} if not source.routes else set())
                    | ({"trace"} if not config.traces else set())
                )
                run = SourceRun(
                    source, spec, compile_format(spec, omit=unused),
                    route_sql(source.routes, fixed=source.service,
                              default=source.default_service),
                    con, make_enricher, tz,
                )
                if source.database is not None:
                    db_report = FileReport(source.name, Path(f"database:{source.name}"))
                    report.files.append(db_report)
                    try:
                        ingest_database(run, lake, db_report)
                    except (VigieError, duckdb.Error, OSError, ValueError) as exc:
                        db_report.error = str(exc).splitlines()[0]
                for path in discover(source.paths, config.base_dir):
                    file_report = FileReport(source.name, path)
                    report.files.append(file_report)
                    try:
                        if spec.kind == "table":
                            ingest_export(run, lake, path, file_report, config.base_dir)
                        else:
                            ingest_file(run, lake, path, file_report,
                                         config.vigie.chunk_mb << 20, progress, pool)
                    except (SourceError, duckdb.Error, OSError, ValueError) as exc:
                        file_report.error = str(exc).splitlines()[0]
            startup.dimensions()  # a run without new lines still takes today's snapshot
            if compact_after:  # new files folded into the summaries, expired months dropped
                report.compaction = compact(lake, oldest=oldest_month(config))
    finally:
        lake.close()
    return report
