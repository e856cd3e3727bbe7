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
from vigie.indicators.engine import ParameterValue, bind, conform
from vigie.indicators.filters import PARAMETER_TYPES, Filters
from vigie.indicators.privacy import DEFAULT_K, suppress
from vigie.indicators.sqltext import substitute
from vigie.warehouse.daily import daily_sql
from vigie.warehouse.query import population_daily_sql

__all__ = ["literal", "publish_spark", "register_views", "render", "run_spark"]

_PLAIN = re.compile(r"^[\w .:/@+\-]*$")
_SPARK_TYPES = {"date": "DATE", "text": "STRING", "integer": "INT"}

_POPULATION_DAILY = population_daily_sql(
    "explode(sequence(first_day, last_day, INTERVAL 1 DAY))")

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
        "CAST(NULL AS STRING) AS source WHERE false"
    ),
}

#: Partition columns and their types: Spark would otherwise guess them from the folder names.
_PARTITIONS = {
    "events": {"service": "string", "month": "string"},
    "directory": {"snapshot_date": "date"},
    "quarantine": {"source": "string"},
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
           strict: bool = True) -> str:
    """The indicator's SQL with its parameters written as Spark literals."""
    values = bind(indicator, filters, k=k, strict=strict)
    return substitute(indicator.sql, lambda name: literal(values[name], PARAMETER_TYPES[name]))


def _has_parquet(folder: Path) -> bool:
    return folder.is_dir() and any(folder.rglob("*.parquet"))


def register_views(spark: Any, lake: Path) -> None:
    """Defines `events`, `daily`, `directory`, `population_daily` and `quarantine` on `spark`.

    Same contract as DuckDB's views (docs/events.md); a missing optional table becomes an empty
    view. Folders starting with `_` (the lake's own bookkeeping) are ignored by Spark.
    """
    from pyspark.sql import functions as F

    for table, partitions in _PARTITIONS.items():
        folder = lake / table
        if _has_parquet(folder):
            frame = spark.read.option("basePath", str(folder)).parquet(str(folder))
            for column, spark_type in partitions.items():
                frame = frame.withColumn(column, F.col(column).cast(spark_type))
            frame.createOrReplaceTempView(table)
        elif table == "events":
            raise IndicatorError(f"the lake {lake} has no events yet (run `vigie ingest`)")
        else:
            spark.sql(_EMPTY[table]).createOrReplaceTempView(table)
    spark.sql(_POPULATION_DAILY).createOrReplaceTempView("population_daily")
    daily = lake / "daily"
    if _has_parquet(daily):
        frame = spark.read.option("basePath", str(daily)).parquet(str(daily))
        for column in ("service", "month"):
            frame = frame.withColumn(column, F.col(column).cast("string"))
        frame.createOrReplaceTempView("daily")
    else:  # a lake from before the daily table: the same rows, computed from the events
        spark.sql(daily_sql("events", partition_keys=True)).createOrReplaceTempView("daily")


def run_spark(indicator: Indicator, spark: Any, lake_path: Path,
              filters: Filters | None = None, *, k: int = DEFAULT_K, strict: bool = True,
              register: bool = True) -> pa.Table:
    """The exact result of `indicator` computed by Spark (not for publication).

    `register=False` reuses views already defined by `register_views` (one listing of the lake
    for a whole catalogue).
    """
    if register:
        register_views(spark, lake_path)
    sql = render(indicator, filters, k=k, strict=strict)
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
