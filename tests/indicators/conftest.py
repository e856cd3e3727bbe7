"""Fixtures of the indicator tests: the hand-made lake of `lake.py`, opened with DuckDB.

Every test taking `con` runs twice: on the lake's tables alone (summaries computed on the fly)
and on the same lake compacted (summaries read from their files), with the same expectations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.indicators.lake import build_lake, build_summarized_lake
from vigie.warehouse.query import connect


@pytest.fixture(scope="session")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small lake (read-only: tests must not write in it)."""
    return build_lake(tmp_path_factory.mktemp("indicators") / "lake")


@pytest.fixture(scope="session")
def summarized_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small lake as ingestion leaves it: `daily` table and compacted summaries."""
    return build_summarized_lake(tmp_path_factory.mktemp("indicators") / "lake")


@pytest.fixture(params=["tables", "summaries"])
def lake(request: pytest.FixtureRequest, small_lake: Path, summarized_lake: Path) -> Path:
    """The small lake, without then with its summaries."""
    return small_lake if request.param == "tables" else summarized_lake


@pytest.fixture
def con(lake: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with the lake's views."""
    connection = connect(lake)
    yield connection
    connection.close()
