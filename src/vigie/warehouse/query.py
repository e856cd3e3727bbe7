"""Reading the lake with SQL: the views `events`, `population_daily` and `quarantine`.

This is the contract users and indicators rely on (documented in docs/events.md). The views are
plain DuckDB views over the Parquet files, so the same SQL also runs on Spark over the same
folders.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from vigie.warehouse.daily import daily_sql

__all__ = ["connect", "population_daily_sql"]

_HIVE = "hive_partitioning = true, union_by_name = true"


def population_daily_sql(days: str) -> str:
    """The `population_daily` view: one row per day, population, structure and study step.

    It counts the people the directory held that day (the snapshot valid on it; before the
    first snapshot, the first one). `days` is the engine's way of listing the days from
    `first_day` to `last_day` (DuckDB's `generate_series`, Spark's `sequence`): the rest of
    the SQL is shared by both engines.
    """
    return f"""
WITH snapshots AS (
  SELECT snapshot_date, population, structure, structure_label, etape, count(*) AS people
  FROM directory GROUP BY snapshot_date, population, structure, structure_label, etape
), bounds AS (
  SELECT least((SELECT min(day) FROM events), min(snapshot_date)) AS first_day,
         greatest((SELECT max(day) FROM events), max(snapshot_date)) AS last_day
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


def _has_parquet(folder: Path) -> bool:
    return folder.is_dir() and any(folder.rglob("*.parquet"))


def connect(lake: Path, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake's views defined."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    events = lake / "events"
    if _has_parquet(events):
        con.execute(
            f"CREATE VIEW events AS SELECT * FROM read_parquet('{events}/*/*/*.parquet', {_HIVE}, "
            "hive_types = {'service': VARCHAR, 'month': VARCHAR})"
        )
    else:
        con.execute(
            "CREATE VIEW events AS SELECT NULL::TIMESTAMPTZ AS ts, NULL::DATE AS day, "
            "NULL::VARCHAR AS service, NULL::VARCHAR AS user_pseudo, "
            "NULL::VARCHAR AS population WHERE false"
        )
    daily = lake / "daily"
    if _has_parquet(daily):
        con.execute(
            f"CREATE VIEW daily AS SELECT * FROM read_parquet('{daily}/*/*/*.parquet', {_HIVE}, "
            "hive_types = {'service': VARCHAR, 'month': VARCHAR})"
        )
    elif _has_parquet(events):  # a lake from before the daily table: computed on the fly
        con.execute("CREATE VIEW daily AS " + daily_sql("events", partition_keys=True))
    directory = lake / "directory"
    if _has_parquet(directory):
        con.execute(
            f"CREATE VIEW directory AS SELECT * FROM read_parquet('{directory}/*/*.parquet', "
            f"{_HIVE}, hive_types = {{'snapshot_date': DATE}})"
        )
        con.execute("CREATE VIEW population_daily AS "
                    + population_daily_sql("unnest(generate_series(first_day, last_day, "
                                           "INTERVAL 1 DAY))::DATE"))
    statements = lake / "statements"
    if _has_parquet(statements):
        con.execute(
            f"CREATE VIEW statements AS SELECT * FROM read_parquet('{statements}/*/*/*.parquet', "
            f"{_HIVE}, hive_types = {{'tenant': VARCHAR, 'month': VARCHAR}})"
        )
    quarantine = lake / "quarantine"
    if _has_parquet(quarantine):
        con.execute(
            f"CREATE VIEW quarantine AS SELECT * FROM read_parquet('{quarantine}/*/*.parquet', "
            f"{_HIVE})"
        )
    return con
