"""Fixtures of the LRS tests: a storage backend, a registry with cheap hashing, clients.

Every test that takes `backend` (directly, or through `registry`, `client` or `writer`) runs
twice: on the embedded SQLite store under `tmp_path`, and on PostgreSQL, in a database of the
session's real server (`tests/postgres.py`) whose LRS schemas are dropped before and after each
test, so both backends prove the same behaviour.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.postgres import Postgres
from vigie.lrs.app import create_app
from vigie.lrs.backend import Backend, open_backend, open_registry
from vigie.lrs.documents import DocumentStore, SQLiteDocumentStore
from vigie.lrs.tenants import NewCredential, TenantRegistry

VERSION = {"X-Experience-API-Version": "1.0.3"}
#: The environment variable holding the PostgreSQL password in CLI and server tests.
PASSWORD_ENV = "VIGIE_TEST_LRS_PASSWORD"
BACKENDS = ("sqlite", "postgresql")


def basic(credential: NewCredential) -> dict[str, str]:
    """Headers of an authenticated xAPI request with this credential."""
    token = base64.b64encode(f"{credential.key}:{credential.secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", **VERSION}


@dataclass(frozen=True)
class LrsBackend:
    """One place the LRS keeps its data; each call opens new stores over the same data, as a
    restarted server would."""

    name: str
    root: Path
    server: Postgres | None = None

    @property
    def database(self) -> str | None:
        return None if self.server is None else self.server.uri

    @property
    def password(self) -> str | None:
        return None if self.server is None else self.server.password

    def open(self, **kwargs: Any) -> Backend:
        return open_backend(self.root, database=self.database, password=self.password, **kwargs)

    def registry(self) -> TenantRegistry:
        """A registry with scrypt kept cheap (the cost is a parameter, not a rule)."""
        registry = open_registry(self.root, database=self.database, password=self.password)
        registry.scrypt_n = 2**4
        return registry

    def documents(self) -> DocumentStore:
        """A document store alone."""
        if self.server is None:
            return SQLiteDocumentStore(self.root / "statements")
        from vigie.lrs.pg_documents import PostgresDocumentStore
        from vigie.lrs.postgres import PostgresDatabase

        return PostgresDocumentStore(PostgresDatabase(self.server.uri, password=self.password))

    def app(self, registry: TenantRegistry | None = None, **kwargs: Any) -> FastAPI:
        """An application on new stores (closed by `close_app`)."""
        stores = self.open(**{k: v for k, v in kwargs.items() if k == "max_limit"})
        if registry is not None:
            stores.registry.close()
        return create_app(self.root, registry=registry or stores.registry,
                          store=stores.statements, documents=stores.documents, **kwargs)

    def cli(self) -> list[str]:
        """The options pointing `vigie lrs …` at this backend (the password in `PASSWORD_ENV`)."""
        if self.server is None:
            return ["--root", str(self.root)]
        return ["--database", self.server.uri, "--password-env", PASSWORD_ENV]

    def env(self) -> dict[str, str]:
        return {} if self.server is None else {PASSWORD_ENV: self.server.password}

    def stored_tenants(self) -> list[str]:
        """Tenants with storage: a file, or a schema."""
        if self.server is None:
            return sorted(p.stem for p in (self.root / "statements").glob("*.sqlite"))
        with self.server.connect() as conn:
            rows = conn.execute(
                "SELECT substr(nspname, 5) FROM pg_namespace WHERE nspname LIKE 'lrs\\_%' "
                "ORDER BY 1"
            ).fetchall()
        return [name for (name,) in rows]

    def count(self, tenant: str, table: str) -> int:
        """Rows of one of a tenant's tables, read directly (not through the LRS)."""
        if self.server is None:
            import sqlite3

            with sqlite3.connect(self.root / "statements" / f"{tenant}.sqlite") as db:
                return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        with self.server.connect() as conn:
            return int(conn.execute(f'SELECT count(*) FROM "lrs_{tenant}".{table}').fetchone()[0])

    def registry_bytes(self) -> bytes:
        """Everything the registry stores, as bytes: its files (WAL included), or the rows of
        its credentials table."""
        if self.server is None:
            return b"".join(path.read_bytes() for path in self.root.glob("tenants.sqlite*"))
        with self.server.connect() as conn:
            rows = conn.execute("SELECT c::text FROM lrs.credentials c").fetchall()
        return "\n".join(row for (row,) in rows).encode()


@pytest.fixture(scope="session")
def lrs_database(postgres: Postgres) -> Postgres:
    """The database of the PostgreSQL tests (emptied after each test: cheaper than a new one)."""
    return postgres.with_database("lrs_tests")


def empty(database: Postgres) -> None:
    """Drops the LRS's schemas (registry and tenants), after ending every other session on the
    database, so that a connection a failed test left open cannot block or see the next test."""
    with database.connect() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        schemas = conn.execute("SELECT quote_ident(nspname) FROM pg_namespace "
                               "WHERE nspname = 'lrs' OR nspname LIKE 'lrs\\_%'").fetchall()
        if schemas:
            conn.execute(f"DROP SCHEMA {', '.join(name for (name,) in schemas)} CASCADE")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LrsBackend]:
    """The embedded store under `tmp_path`, or PostgreSQL with no LRS data yet."""
    if request.param == "sqlite":
        yield LrsBackend("sqlite", tmp_path)
        return
    database: Postgres = request.getfixturevalue("lrs_database")
    empty(database)
    yield LrsBackend("postgresql", tmp_path, database)
    empty(database)


@pytest.fixture
def registry(backend: LrsBackend) -> Iterator[TenantRegistry]:
    """Tenants `caen` and `rouen`."""
    registry = backend.registry()
    registry.add_tenant("caen")
    registry.add_tenant("rouen")
    yield registry
    registry.close()


@pytest.fixture
def client(backend: LrsBackend, registry: TenantRegistry) -> Iterator[TestClient]:
    app = backend.app(registry, max_body_bytes=200_000, max_limit=50)
    with TestClient(app) as test_client:
        yield test_client
    close_app(app)


def close_app(app: FastAPI) -> None:
    """Closes the stores of `backend.app` (not the registry it was given)."""
    app.state.store.close()
    app.state.documents.close()


@pytest.fixture
def writer(registry: TenantRegistry) -> dict[str, str]:
    """Headers of a `caen` credential that may read and write everything."""
    return basic(registry.add_credential("caen", scopes=("all",), label="moodle-caen"))
