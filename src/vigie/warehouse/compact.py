"""Compaction: the files ingestion writes, folded into the lake's summaries, service by service.

Each ingestion chunk writes its `events` and `daily` rows as new files named `part-*`; the
summaries (`vigie.warehouse.summaries`) are exact only once those files are folded into them.
Compaction does it at the end of each `vigie ingest` (or alone: `vigie compact`), one lake
transaction per service: each summary of the service is rewritten as one file with the new
rows merged in, and the files it now includes are renamed `folded-*` (a hard link staged in the
transaction and the old name dropped: no data is copied). Months older than the retention are
dropped in the same transaction, with their rows in the summaries. A process killed at any
point leaves each service either compacted or as it was; the next run finishes the work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from vigie.warehouse.lake import Lake, Transaction
from vigie.warehouse.summaries import SUMMARIES, Summary

__all__ = ["FOLDED_PREFIX", "NEW_PREFIX", "CompactReport", "compact", "shift_month", "unfolded"]

#: Files written by ingestion, not yet in the summaries.
NEW_PREFIX = "part-"
#: Files whose rows are in the summaries.
FOLDED_PREFIX = "folded-"
#: The tables ingestion writes, partitioned by service and month.
TABLES = ("events", "daily")


@dataclass
class CompactReport:
    """What one compaction did."""

    services: list[str] = field(default_factory=list)
    folded: int = 0
    expired: int = 0
    seconds: float = 0.0


def unfolded(root: Path, table: str, service: str = "*") -> list[Path]:
    """Files of `table` (`events` or `daily`) not yet folded into the summaries."""
    return sorted((root / table).glob(f"service={service}/month=*/{NEW_PREFIX}*.parquet"))


def _read(files: Sequence[Path], partitions: Sequence[str] = ("service", "month")) -> str:
    """A DuckDB relation over lake files, with their hive `partitions` as text."""
    listing = ", ".join(f"'{f}'" for f in files)
    types = ", ".join(f"'{p}': VARCHAR" for p in partitions)
    return (f"read_parquet([{listing}], hive_partitioning = true, union_by_name = true, "
            f"hive_types = {{{types}}})")


def _summary_files(files: Sequence[Path]) -> str:
    """A DuckDB relation over a summary's files (partitioned by service only)."""
    return _read(files, ("service",))


def _month(path: Path) -> str:
    return path.parent.name.removeprefix("month=")


def _rows(summary: Summary, root: Path, service: str, old: Sequence[Path],
          new: Sequence[Path]) -> str:
    """The summary's rows for `service` once the files `new` of its source are in."""
    columns = ", ".join(summary.columns)
    if summary.mergeable:
        rows = summary.select(_read(new))
        if not old:
            return rows
        return summary.merge(f"(SELECT {columns} FROM {_summary_files(old)} UNION ALL {rows})")
    # Distinct counts do not add up: the months with new files are recomputed from all their
    # rows, folded or not, and the other months kept as they were. A week belongs to the month
    # of its Monday: the weeks of a month with new rows and of the month before (whose last
    # week may end in it) are recomputed, from their months and the month after each.
    months = sorted({_month(f) for f in new})
    month_of = "month"
    read = months
    if summary.day == "week_start":
        months = sorted({*months, *(shift_month(m, -1) for m in months)})
        read = sorted({*months, *(shift_month(m, 1) for m in months)})
        month_of = "strftime(week_start, '%Y-%m')"
    source = root / summary.source / f"service={service}"
    recomputed = ", ".join(f"'{m}'" for m in months)
    rows = (f"SELECT * FROM ({summary.select(_read(_files(source, read)))}) "
            f"WHERE {month_of} IN ({recomputed})")
    if not old:
        return rows
    return (f"SELECT {columns} FROM {_summary_files(old)} WHERE {month_of} NOT IN "
            f"({recomputed}) UNION ALL {rows}")


def _files(source: Path, months: Sequence[str]) -> list[Path]:
    """The Parquet files of `months` in a service's folder of a source table."""
    return [f for m in months for f in sorted((source / f"month={m}").glob("*.parquet"))]


def shift_month(month: str, by: int) -> str:
    """`YYYY-MM` moved by `by` months."""
    year, number = divmod(int(month[:4]) * 12 + int(month[5:7]) - 1 + by, 12)
    return f"{year:04d}-{number + 1:02d}"


def _source_files(root: Path, table: str, service: str) -> list[Path]:
    """Every file of a service in a table, folded or not."""
    return sorted((root / table).glob(f"service={service}/month=*/*.parquet"))


def _missing_summaries(root: Path) -> set[str]:
    """The services whose source rows lack one of the summaries (added by a newer vigie):
    compaction builds it from their rows."""
    return {folder.name.removeprefix("service=")
            for summary in SUMMARIES
            for folder in (root / summary.source).glob("service=*")
            if any(folder.glob("month=*/*.parquet"))
            and not any((root / summary.name / folder.name).glob("*.parquet"))}


def _fold(tx: Transaction, root: Path, path: Path) -> None:
    """Renames a file `folded-*` in the transaction: a staged hard link, the old name dropped."""
    relative = path.relative_to(root)
    target = tx.staging / relative.parent / (FOLDED_PREFIX + path.name[len(NEW_PREFIX):])
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(path, target)
    tx.drop(str(relative))


def _expired(month: str, oldest: str | None) -> bool:
    return oldest is not None and month < oldest


def _compact_service(con: duckdb.DuckDBPyConnection, tx: Transaction, root: Path,
                     service: str, oldest: str | None) -> int:
    """Stages the compaction of one service; returns the number of files folded."""
    for table in TABLES:
        for month in (root / table).glob(f"service={service}/month=*"):
            if _expired(month.name.removeprefix("month="), oldest):
                tx.drop(str(month.relative_to(root)))
    new = {table: [f for f in unfolded(root, table, service) if not _expired(_month(f), oldest)]
           for table in TABLES}
    for summary in SUMMARIES:
        old = sorted((root / summary.name / f"service={service}").glob("*.parquet"))
        added = new[summary.source]
        if not old:  # a first compaction, or a summary this lake has not had yet: every row
            added = [f for f in _source_files(root, summary.source, service)
                     if not _expired(_month(f), oldest)]
        if not added and not old:
            continue
        rows = (_rows(summary, root, service, old, added)
                if added else f"SELECT * FROM {_summary_files(old)}")
        kept = f" WHERE {summary.day} >= DATE '{oldest}-01'" if oldest else ""
        order = f" ORDER BY {', '.join(summary.order)}" if summary.order else ""
        target = tx.area(summary.name) / f"service={service}"
        target.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT * EXCLUDE (service) FROM ({rows}){kept}{order}) "
                    f"TO '{target / tx.part()}' (FORMAT parquet, COMPRESSION zstd)")
        for path in old:
            tx.drop(str(path.relative_to(root)))
    for files in new.values():
        for path in files:
            _fold(tx, root, path)
    return sum(len(files) for files in new.values())


def compact(lake: Lake, *, oldest: str | None = None,
            threads: int | None = None) -> CompactReport:
    """Folds every new file of the lake into the summaries and drops the months before
    `oldest` (`YYYY-MM`, from `retention_months`), one transaction per service that has
    anything to do."""
    started = time.perf_counter()
    report = CompactReport()
    root = lake.root
    services = {p.parent.parent.name.removeprefix("service=")
                for table in TABLES for p in unfolded(root, table)}
    expired = [p for table in TABLES for p in (root / table).glob("service=*/month=*")
               if _expired(p.name.removeprefix("month="), oldest)]
    services |= {p.parent.name.removeprefix("service=") for p in expired}
    services |= _missing_summaries(root)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # ingestion shows its own
    if threads:
        con.execute(f"SET threads = {threads}")
    for service in sorted(services):
        with lake.transaction() as tx:
            report.folded += _compact_service(con, tx, root, service, oldest)
        report.services.append(service)
    report.expired = len(expired)
    report.seconds = time.perf_counter() - started
    con.close()
    return report
