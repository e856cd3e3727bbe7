"""A local PySpark session for the tests that compare Spark's answers with DuckDB's."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def local_spark(name: str, timezone: str = "UTC") -> Iterator[Any]:
    """A `local[2]` session on loopback (no UI, two shuffle partitions) whose SQL session time
    zone is `timezone`, stopped on exit; the test is skipped when PySpark or Java is missing
    (`scripts/system-packages` and the `test` extra install both)."""
    pytest.importorskip("pyspark", reason="a test dependency: pip install -e '.[test]'")
    if shutil.which("java") is None:  # pragma: no cover - CI installs a Java runtime
        pytest.skip("PySpark needs a Java runtime (scripts/system-packages installs it)")
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]").appName(name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", timezone)
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        yield spark
    finally:
        spark.stop()


def same_rows(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Equal rows, in the same order; floats equal but for the rounding noise of sums
    (Spark and DuckDB add in different orders)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x.keys() != y.keys():
            return False
        for key, value in x.items():
            other = y[key]
            if isinstance(value, float) and isinstance(other, float):
                if not math.isclose(value, other, rel_tol=1e-12):
                    return False
            elif value != other:
                return False
    return True
