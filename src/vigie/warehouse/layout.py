"""How the lake is read: the same relations and views on DuckDB and on Spark.

Each engine turns `Files` (a folder's Parquet files with their hive partitions typed) into a
relation its own way, then defines the `views` with the SQL given here, which both engines
share; so a view means the same rows on both. A summary (`vigie.warehouse.summaries`) is read
from its files when they hold every row of its source table (all compacted), and otherwise
computed from that table on the fly: slower, never stale.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vigie.warehouse.compact import unfolded
from vigie.warehouse.daily import daily_sql
from vigie.warehouse.summaries import SUMMARIES

__all__ = ["Files", "Layout", "files_signature", "layout", "population_daily_sql"]

PartitionType = Literal["text", "date"]


@dataclass(frozen=True)
class Files:
    """The Parquet files of one lake table: `folder`, a glob under it, typed partitions.

    `union_by_name`: files may differ in their columns (written by several versions of vigie)
    and are matched by name, which costs reading every file's footer at each query; false for
    the summaries, which compaction rewrites whole.
    """

    folder: Path
    pattern: str
    partitions: dict[str, PartitionType]
    union_by_name: bool = True
    #: Columns added by a later vigie, NULL in the rows of files written before them.
    added_columns: dict[str, PartitionType] = field(default_factory=dict)


@dataclass
class Layout:
    """Relations read from files, then views over them (in dependency order), by name.

    `materialized` names the summaries read from their own files: engines list them in a
    one-column table `lake_summaries`, so that indicators know which summaries are fast (a
    table, not a view: it describes the connection, so a manager's restriction keeps it).
    """

    files: dict[str, Files] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)
    materialized: set[str] = field(default_factory=set)


def population_daily_sql(days: str, *, bounds: str = "events") -> str:
    """The `population_daily` view: one row per day, population, structure and study step.

    It counts the people the directory held that day (the snapshot valid on it; before the
    first snapshot, the first one), from the first to the last day of `bounds` (a relation
    with `day`: the events, or their daily summary). `days` is the engine's way of listing the
    days from `first_day` to `last_day` (DuckDB's `generate_series`, Spark's `sequence`): the
    rest of the SQL is shared by both engines.
    """
    return f"""
WITH snapshots AS (
  SELECT snapshot_date, population, structure, structure_label, etape, count(*) AS people
  FROM directory GROUP BY snapshot_date, population, structure, structure_label, etape
), bounds AS (
  SELECT least((SELECT min(day) FROM {bounds}), min(snapshot_date)) AS first_day,
         greatest((SELECT max(day) FROM {bounds}), max(snapshot_date)) AS last_day
  FROM snapshots
), days AS (
  SELECT {days} AS day FROM bounds
), valid AS (
  SELECT d.day, coalesce(max(s.snapshot_date), (SELECT min(snapshot_date) FROM snapshots))
    AS snapshot_date
  FROM days d LEFT JOIN (SELECT DISTINCT snapshot_date FROM snapshots) s
    ON s.snapshot_date <= d.day
  GROUP BY d.day
)
SELECT v.day, s.population, s.structure, s.structure_label, s.etape, s.people
FROM valid v JOIN snapshots s ON s.snapshot_date = v.snapshot_date
"""


def files_signature(lake: Path) -> int:
    """A number that changes whenever a transaction adds, renames or drops a file of the lake.

    File names are unique in a lake and files are never rewritten in place, so the names are
    its version: a reader keeping a connection knows when to open a new one (a listing of a
    few thousand files takes about 10 ms).
    """
    names: list[str] = []
    folders = [str(lake)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("_"):
                        folders.append(entry.path)
                elif entry.name.endswith(".parquet"):
                    names.append(entry.name)
    return hash(tuple(sorted(names)))


def has_parquet(folder: Path) -> bool:
    return folder.is_dir() and any(folder.rglob("*.parquet"))


_BY_MONTH: dict[str, PartitionType] = {"service": "text", "month": "text"}


def layout(lake: Path, *, days: str) -> Layout:
    """What the lake holds now, as relations and views (`days`: see `population_daily_sql`)."""
    found = Layout()
    tables: dict[str, tuple[str, dict[str, PartitionType]]] = {
        "events": ("*/*/*.parquet", _BY_MONTH),
        "daily": ("*/*/*.parquet", _BY_MONTH),
        "directory": ("*/*.parquet", {"snapshot_date": "date"}),
        "statements": ("*/*/*.parquet", {"tenant": "text", "month": "text"}),
        "quarantine": ("*/*.parquet", {"source": "text"}),
    }
    added: dict[str, dict[str, PartitionType]] = {"quarantine": {"near_day": "date"}}
    for name, (pattern, partitions) in tables.items():
        if has_parquet(lake / name):
            found.files[name] = Files(lake / name, pattern, partitions,
                                      added_columns=added.get(name, {}))
    if "events" not in found.files:
        return found
    if "daily" not in found.files:  # a lake from before the daily table: computed on the fly
        found.views["daily"] = daily_sql("events", partition_keys=True)
    # A summary is exact when every file of its source table is folded into it.
    folded = {"events": not unfolded(lake, "events"),
              "daily": "daily" in found.files and not unfolded(lake, "daily")}
    for summary in SUMMARIES:
        folder = lake / summary.name
        if folded[summary.source] and has_parquet(folder):
            found.files[summary.name] = Files(folder, "*/*.parquet", {"service": "text"},
                                              union_by_name=False)
            found.materialized.add(summary.name)
        else:
            found.views[summary.name] = summary.select(summary.source)
    if "directory" in found.files:
        # The first and last days from the smallest table that has them exactly.
        bounds = next(t for t in ("daily_events", "daily", "events") if t in found.files)
        found.views["population_daily"] = population_daily_sql(days, bounds=bounds)
    return found
