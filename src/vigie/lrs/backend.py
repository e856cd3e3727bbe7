"""Which storage the LRS runs on: the embedded SQLite files under a folder (the default, no
server to install) or a PostgreSQL database (production, several server processes, large
multi-tenant deployments).

Why one place: `vigie lrs serve` and the tenant / credential / OIDC commands must open the same
storage from the same options (`--root`, `--database`, `--password-env`), and the HTTP layer
only sees the `StatementStore`, `DocumentStore` and `TenantRegistry` it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vigie.errors import ConfigError
from vigie.lrs.documents import DocumentStore, SQLiteDocumentStore
from vigie.lrs.sqlite_store import SQLiteStatementStore
from vigie.lrs.statement_query import MAX_LIMIT
from vigie.lrs.store import StatementStore
from vigie.lrs.tenants import TenantRegistry

if TYPE_CHECKING:
    from vigie.lrs.postgres import PostgresDatabase

__all__ = ["Backend", "connect_postgres", "open_backend", "open_registry"]


@dataclass(frozen=True)
class Backend:
    """The three stores of one LRS (on PostgreSQL they share one connection pool)."""

    registry: TenantRegistry
    statements: StatementStore
    documents: DocumentStore

    def close(self) -> None:
        self.documents.close()
        self.statements.close()
        self.registry.close()


def open_backend(
    root: Path, *, database: str | None = None, password: str | None = None,
    max_limit: int = MAX_LIMIT,
) -> Backend:
    """The stores under `root` (`tenants.sqlite`, `statements/<tenant>.sqlite`), or, given a
    PostgreSQL `database` URI, in that database (`root` is then unused).

    Raises:
        DatabaseUnreachable: the database cannot be connected to (says which and why).
        ConfigError: PostgreSQL support (the `postgresql` extra) is not installed.
    """
    if database is None:
        folder = Path(root) / "statements"
        return Backend(
            TenantRegistry(Path(root)), SQLiteStatementStore(folder, max_limit=max_limit),
            SQLiteDocumentStore(folder),
        )
    shared = connect_postgres(database, password)
    from vigie.lrs.pg_documents import PostgresDocumentStore
    from vigie.lrs.pg_store import PostgresStatementStore
    from vigie.lrs.postgres import PostgresRegistryDatabase

    return Backend(
        TenantRegistry(PostgresRegistryDatabase(shared)),
        PostgresStatementStore(shared, max_limit=max_limit), PostgresDocumentStore(shared),
    )


def open_registry(
    root: Path, *, database: str | None = None, password: str | None = None
) -> TenantRegistry:
    """Only the tenant registry of `open_backend` (for the CLI's tenant and credential
    commands)."""
    if database is None:
        return TenantRegistry(Path(root))
    shared = connect_postgres(database, password)
    from vigie.lrs.postgres import PostgresRegistryDatabase

    return TenantRegistry(PostgresRegistryDatabase(shared))


def connect_postgres(database: str, password: str | None) -> PostgresDatabase:
    """The connected database (a pool its users share); psycopg is imported only here, since
    it is the optional `postgresql` extra and the embedded store does not need it."""
    try:
        from vigie.lrs.postgres import PostgresDatabase
    except ImportError as exc:
        raise ConfigError(
            f"--database: PostgreSQL support is not installed ({exc}); install it with "
            "pip install 'vigie[postgresql]'"
        ) from None
    return PostgresDatabase(database, password=password)
