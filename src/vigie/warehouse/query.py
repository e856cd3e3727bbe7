"""Reading the lake with SQL on DuckDB: the views of `vigie.warehouse.layout`.

This is the contract users and indicators rely on (documented in docs/events.md). The views are
plain DuckDB views over the Parquet files, so the same SQL also runs on Spark over the same
folders.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from vigie.warehouse.layout import layout

__all__ = ["connect"]

#: DuckDB's list of the days of `population_daily`.
_DAYS = "unnest(generate_series(first_day, last_day, INTERVAL 1 DAY))::DATE"

_TYPES = {"text": "VARCHAR", "date": "DATE"}


def connect(lake: Path, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake's views defined.

    Parquet footers are cached: the views read thousands of files, and a connection kept for
    several queries (the dashboards') then reads them once.
    """
    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true")
    if threads:
        con.execute(f"SET threads = {threads}")
    found = layout(lake, days=_DAYS)
    for name, files in found.files.items():
        types = ", ".join(f"'{column}': {_TYPES[kind]}"
                          for column, kind in files.partitions.items())
        added = ", ".join(f"NULL::{_TYPES[kind]} AS {column}"
                          for column, kind in files.added_columns.items())
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{files.folder}/{files.pattern}', "
            f"hive_partitioning = true, union_by_name = {str(files.union_by_name).lower()}, "
            f"hive_types = {{{types}}})"
            + (f" UNION ALL BY NAME SELECT {added} WHERE false" if added else "")
        )
    if "events" not in found.files:
        con.execute(
            "CREATE VIEW events AS SELECT NULL::TIMESTAMPTZ AS ts, NULL::DATE AS day, "
            "NULL::VARCHAR AS service, NULL::VARCHAR AS user_pseudo, "
            "NULL::VARCHAR AS population WHERE false"
        )
    for name, sql in found.views.items():
        con.execute(f"CREATE VIEW {name} AS {sql}")
    names = " UNION ALL ".join(f"SELECT '{n}'" for n in sorted(found.materialized))
    con.execute("CREATE TABLE lake_summaries AS SELECT * FROM "
                f"({names or 'SELECT NULL::VARCHAR WHERE false'}) AS t(name)")
    return con
