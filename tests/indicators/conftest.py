"""Fixtures of the indicator tests: the hand-made lake of `lake.py`, opened with DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.indicators.lake import build_lake
from vigie.warehouse.query import connect


@pytest.fixture(scope="session")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small lake (read-only: tests must not write in it)."""
    return build_lake(tmp_path_factory.mktemp("indicators") / "lake")


@pytest.fixture
def con(small_lake: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with the lake's views."""
    connection = connect(small_lake)
    yield connection
    connection.close()
