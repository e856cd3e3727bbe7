"""Fixtures shared by the whole suite: real inputs from ../shared, small configurations, and
one real PostgreSQL server per session (`tests/postgres.py`)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import Postgres, running_postgres

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
AGIMUS = REAL / "agimus-demo"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with a pseudonymization secret in the environment."""
    monkeypatch.setenv("VIGIE_SECRET", "test-secret-0123456789abcdef")


def write_config(folder: Path, body: str, vigie: str = "") -> Path:
    """Writes `vigie.toml` in `folder` (lake inside it) and returns its path."""
    path = folder / "vigie.toml"
    head = '[vigie]\nlake = "lake"\n' + textwrap.dedent(vigie)
    path.write_text(head + textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for the whole session (skipped when PostgreSQL is not installed)."""
    with running_postgres() as server:
        yield server
