"""Running the same catalogue on Apache Spark, for lakes too big for one machine.

Spark gets the very SQL DuckDB runs, with each `$name` parameter replaced by a typed literal
(`DATE '2026-09-01'`, a string literal, `CAST(NULL AS STRING)` for "no filter"), and the lake's
views defined with Spark SQL equivalent to `vigie.warehouse.query.connect`. Strings made of
ordinary characters are written as quoted literals; anything else is written as UTF-8 bytes in
hexadecimal (`decode(X'…', 'UTF-8')`), which no quote, backslash or parser setting can escape.

pyspark is imported lazily: it is an optional dependency.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from vigie.indicators.catalogue import Indicator, IndicatorError
from vigie.indicators.engine import ParameterValue, applied, bind, conform
from vigie.indicators.filters import (
    LAST_DAY_SQL,
    NO_SUMMARIES,
    PARAMETER_TYPES,
    Filters,
    Plan,
    make_plan,
)
from vigie.indicators.privacy import DEFAULT_K, suppress
from vigie.indicators.sqltext import substitute
from vigie.warehouse.layout import layout, population_daily_sql

__all__ = ["literal", "publish_spark", "register_views", "render", "run_spark"]

_PLAIN = re.compile(r"^[\w .:/@+\-]*$")
_SPARK_TYPES = {"date": "DATE", "text": "STRING", "integer": "INT"}

#: Spark's list of the days of `population_daily`.
_DAYS = "explode(sequence(first_day, last_day, INTERVAL 1 DAY))"
_TYPES = {"text": "string", "date": "date"}

_EMPTY = {
    "directory": (
        "SELECT CAST(NULL AS STRING) AS user_pseudo, CAST(NULL AS STRING) AS population, "
        "CAST(NULL AS ARRAY<STRING>) AS affiliations, CAST(NULL AS STRING) AS structure, "
        "CAST(NULL AS STRING) AS structure_label, CAST(NULL AS STRING) AS structure_parent, "
        "CAST(NULL AS STRING) AS etape, CAST(NULL AS STRING) AS diplome, "
        "CAST(NULL AS STRING) AS cursus_year, CAST(NULL AS DATE) AS snapshot_date WHERE false"
    ),
    "quarantine": (
        "SELECT CAST(NULL AS STRING) AS file, CAST(NULL AS BIGINT) AS line_no, "
        "CAST(NULL AS BIGINT) AS byte_offset, CAST(NULL AS STRING) AS reason, "
        "CAST(NULL AS STRING) AS format, CAST(NULL AS TIMESTAMP) AS quarantined_at, "
        "CAST(NULL AS DATE) AS near_day, CAST(NULL AS STRING) AS source WHERE false"
    ),
}


def literal(value: ParameterValue, sql_type: str) -> str:
    """`value` as a Spark SQL literal of `sql_type` (`date`, `text`, `integer`)."""
    if value is None:
        return f"CAST(NULL AS {_SPARK_TYPES[sql_type]})"
    if sql_type == "date" and isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if sql_type == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if sql_type == "text" and isinstance(value, str):
        if _PLAIN.match(value) and "\\" not in value:
            return f"'{value}'"
        return f"decode(X'{value.encode('utf-8').hex().upper()}', 'UTF-8')"
    raise IndicatorError(f"parameter value {value!r} is not a {sql_type}")


def render(indicator: Indicator, filters: Filters | None = None, *, k: int = DEFAULT_K,
           strict: bool = True, plan: Plan = NO_SUMMARIES) -> str:
    """The indicator's SQL for one run with its parameters written as Spark literals."""
    filters = applied(indicator, filters, strict=strict)
    sql = indicator.expanded(filters, plan)
    values = bind(sql, filters, k=k)
    return substitute(sql, lambda name: literal(values[name], PARAMETER_TYPES[name]))


def _plan(spark: Any, indicator: Indicator) -> Plan:
    """Which summaries the run may read, as on DuckDB (`vigie.indicators.engine`)."""
    views = {table.name for table in spark.catalog.listTables()}
    materialized = {row.name for row in spark.table("lake_summaries").collect()}

    def last_day() -> date | None:
        last: date | None = spark.sql(LAST_DAY_SQL).collect()[0][0]
        return last

    return make_plan(indicator.sql, views, materialized, last_day)


def register_views(spark: Any, lake: Path) -> None:
    """Defines the lake's views on `spark`: those of `vigie.warehouse.layout`, as on DuckDB.

    Same contract as DuckDB's views (docs/events.md); a missing optional table becomes an empty
    view. Partition columns are cast explicitly, so Spark never guesses their types from the
    folder names. Folders starting with `_` (the lake's own bookkeeping) are ignored by Spark.
    """
    from pyspark.sql import functions as F

    found = layout(lake, days=_DAYS)
    if "events" not in found.files:
        raise IndicatorError(f"the lake {lake} has no events yet (run `vigie ingest`)")
    for name, select in _EMPTY.items():
        if name not in found.files:
            spark.sql(select).createOrReplaceTempView(name)
    if "directory" not in found.files:
        found.views["population_daily"] = population_daily_sql(_DAYS)
    for name, files in found.files.items():
        # Spark reads every Parquet file under the folder: `files.pattern`, for DuckDB.
        # Files written by several versions of vigie are merged by column name, as on DuckDB.
        frame = (spark.read.option("basePath", str(files.folder))
                 .option("mergeSchema", str(files.union_by_name).lower())
                 .parquet(str(files.folder)))
        for column, kind in files.partitions.items():
            frame = frame.withColumn(column, F.col(column).cast(_TYPES[kind]))
        for column, kind in files.added_columns.items():
            if column not in frame.columns:
                frame = frame.withColumn(column, F.lit(None).cast(_TYPES[kind]))
        frame.createOrReplaceTempView(name)
    for name, select in found.views.items():
        spark.sql(select).createOrReplaceTempView(name)
    spark.createDataFrame([(n,) for n in sorted(found.materialized)], "name string"
                          ).createOrReplaceTempView("lake_summaries")


def run_spark(indicator: Indicator, spark: Any, lake_path: Path,
              filters: Filters | None = None, *, k: int = DEFAULT_K, strict: bool = True,
              register: bool = True) -> pa.Table:
    """The exact result of `indicator` computed by Spark (not for publication).

    `register=False` reuses views already defined by `register_views` (one listing of the lake
    for a whole catalogue).
    """
    if register:
        register_views(spark, lake_path)
    sql = render(indicator, filters, k=k, strict=strict, plan=_plan(spark, indicator))
    try:
        frame = spark.sql(sql)
        table = frame.toArrow()
    except Exception as exc:  # Spark raises many exception types (AnalysisException, Py4J…)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IndicatorError(f"indicator {indicator.id!r} ({indicator.origin}) failed on "
                             f"Spark: {first}") from exc
    return conform(table, indicator)


def publish_spark(indicator: Indicator, spark: Any, lake_path: Path,
                  filters: Filters | None = None, *, k: int = DEFAULT_K,
                  strict: bool = True, register: bool = True) -> pa.Table:
    """The Spark result as it may leave the server: cells below k suppressed."""
    table = run_spark(indicator, spark, lake_path, filters, k=k, strict=strict,
                      register=register)
    return suppress(table, indicator, k)
