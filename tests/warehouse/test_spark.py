"""The lake is read as is by Apache Spark (PySpark, local mode) and gives DuckDB's answers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ingest.test_pipeline import CAS, ENT, run, setup
from tests.spark import local_spark
from vigie.warehouse.query import connect

pyspark = pytest.importorskip("pyspark", reason="a test dependency: pip install -e '.[test]'")

if shutil.which("java") is None:  # pragma: no cover - CI installs a Java runtime
    pytest.skip("PySpark needs a Java runtime (scripts/system-packages installs it)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    with local_spark("vigie-tests") as session:
        yield session


def test_warehouse_spark_reads_the_lake_with_same_results(tmp_path: Path, spark: Any) -> None:
    config = setup(tmp_path)
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    run(config)
    lake = tmp_path / "lake"
    spark.read.parquet(str(lake / "events")).createOrReplaceTempView("events")
    sql = (
        "SELECT service, population, month, count(*) AS events, "
        "count(DISTINCT user_pseudo) AS users, sum(hour) AS hours, "
        "sum(weekday) AS weekdays, sum(size(affiliations)) AS affiliations "
        "FROM events GROUP BY service, population, month ORDER BY service, population"
    )
    with_spark = [tuple(row) for row in spark.sql(sql).collect()]
    with_duckdb = connect(lake).sql(sql.replace("size(", "len(")).fetchall()
    assert with_spark == with_duckdb
    assert len(with_spark) >= 4
    first_ts = spark.sql("SELECT min(ts) FROM events").collect()[0][0]
    assert first_ts.isoformat().startswith("2015-09-24T22:")
