"""Runs a selection of the catalogue on one engine and returns what may be published.

The command line (`vigie indicators`) and, later, the web application use this one entry point,
so the same indicators give the same, suppressed, results whatever asks for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from vigie.indicators.catalogue import Indicator, IndicatorError
from vigie.indicators.engine import publish
from vigie.indicators.filters import Filters
from vigie.warehouse.query import connect

__all__ = ["Engine", "publish_selection", "select"]

Engine = Literal["duckdb", "spark"]


def select(catalogue: Mapping[str, Indicator], ids: Sequence[str]) -> list[Indicator]:
    """The indicators asked for (all when none), or an error listing the known ids."""
    if not ids:
        return [catalogue[i] for i in sorted(catalogue)]
    unknown = [i for i in ids if i not in catalogue]
    if unknown:
        raise IndicatorError(
            f"unknown indicator(s) {', '.join(unknown)}; known: {', '.join(sorted(catalogue))}"
        )
    return [catalogue[i] for i in ids]


def _spark_session() -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[*]").appName("vigie-indicators")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )


def publish_selection(
    lake: Path, indicators: Sequence[Indicator], filters: Filters, *, k: int,
    engine: Engine = "duckdb",
) -> list[tuple[Indicator, pa.Table]]:
    """Each indicator's published (suppressed) result over `lake`.

    With several indicators, a filter an indicator does not support is ignored for it; asked
    for a single indicator, such a filter is an error.
    """
    strict = len(indicators) == 1
    if engine == "duckdb":
        con = connect(lake)
        return [(i, publish(i, con, filters, k=k, strict=strict)) for i in indicators]
    try:
        from vigie.indicators.spark import publish_spark, register_views
    except ImportError as exc:  # pragma: no cover - pyspark is an optional dependency
        raise IndicatorError("the Spark engine needs PySpark: pip install pyspark") from exc
    session = _spark_session()
    register_views(session, lake)
    return [
        (i, publish_spark(i, session, lake, filters, k=k, strict=strict, register=False))
        for i in indicators
    ]
