"""The whole catalogue on PySpark (local mode) gives DuckDB's answers, cell for cell, on the
lake's tables alone and with its summaries (the same plan, so the same SQL, on both engines)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.spark import local_spark, same_rows
from vigie.indicators import Filters, builtin_indicators, run
from vigie.indicators.spark import literal, publish_spark, register_views, render, run_spark
from vigie.warehouse.query import connect

pytest.importorskip("pyspark", reason="a test dependency: pip install -e '.[test]'")
if shutil.which("java") is None:  # pragma: no cover - CI installs a Java runtime
    pytest.skip("PySpark needs a Java runtime", allow_module_level=True)

CATALOGUE = builtin_indicators()
FILTERS = [
    Filters(start=date(2026, 9, 1), end=date(2026, 9, 30)),
    Filters(service="moodle", population="student", structure="SCI"),
    Filters(etape="E1", zone="outside", device="smartphone"),
    Filters(start=date(2026, 10, 1), population="faculty", device="desktop"),
    Filters(source="cas,helpdesk", zone="outside"),
]


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    with local_spark("vigie-indicators-tests") as spark:
        yield spark


@pytest.fixture(scope="module", params=["tables", "summaries"])
def spark(request: pytest.FixtureRequest, session: Any, small_lake: Path,
          summarized_lake: Path) -> tuple[Any, Path]:
    """A Spark session with the views of the small lake, without then with its summaries."""
    lake = small_lake if request.param == "tables" else summarized_lake
    views = session.newSession()  # its own temporary views
    register_views(views, lake)
    return views, lake


@pytest.mark.parametrize("indicator_id", sorted(CATALOGUE))
def test_indicators_spark_gives_duckdb_results(spark: tuple[Any, Path],
                                               indicator_id: str) -> None:
    """Each indicator unfiltered (k = 2, so rankings keep small segments) and with one filter
    set (rotating, so every filter is exercised on Spark while keeping the suite quick)."""
    session, lake = spark
    indicator = CATALOGUE[indicator_id]
    con = connect(lake)
    rotating = FILTERS[sorted(CATALOGUE).index(indicator_id) % len(FILTERS)]
    for filters, k in ((Filters(), 2), (rotating, 5)):
        expected = run(indicator, con, filters, k=k, strict=False)
        got = run_spark(indicator, session, lake, filters, k=k, strict=False,
                        register=False)
        assert got.schema == expected.schema
        assert same_rows(got.to_pylist(), expected.to_pylist()), (filters, k)


def test_indicators_spark_publish_suppresses(spark: tuple[Any, Path]) -> None:
    published = publish_spark(CATALOGUE["adoption"], *spark, register=False)
    assert published["users_suppressed"].to_pylist() == [True, False, True, True, True, False]


def test_indicators_spark_filter_values_cannot_inject_sql(spark: tuple[Any, Path]) -> None:
    hostile = Filters(service="x' OR 1 = 1 OR 'a' = 'a", population="\\' OR true --")
    table = run_spark(CATALOGUE["rhythm"], *spark, hostile, register=False)
    assert table.num_rows == 0
    sql = render(CATALOGUE["rhythm"], Filters(service="moodle"))
    assert "service = 'moodle'" in sql and "CAST(NULL AS DATE)" in sql


def test_indicators_spark_literals() -> None:
    assert literal(date(2026, 9, 1), "date") == "DATE '2026-09-01'"
    assert literal(None, "text") == "CAST(NULL AS STRING)"
    assert literal(5, "integer") == "5"
    assert literal("UFR Sciences-2", "text") == "'UFR Sciences-2'"
    assert literal("l'école", "text") == "decode(X'6C27C3A9636F6C65', 'UTF-8')"
    with pytest.raises(Exception, match="is not a date"):
        literal("2026-09-01", "date")
    with pytest.raises(Exception, match="is not a integer"):
        literal(True, "integer")
