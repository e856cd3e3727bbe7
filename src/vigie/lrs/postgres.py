"""PostgreSQL under the LRS: the connection pool, one schema per tenant, clear failures.

Why one schema per tenant (`lrs_<tenant>`, with the tables of `_TENANT_DDL`) rather than a
tenant column: isolation holds by construction, as with the embedded store's one file per
tenant. Every statement and document query names the tenant's schema, built from a tenant
name checked by `check_tenant`, so no forgotten `WHERE tenant = …` can leak another tenant's
rows; a tenant is dumped, moved or dropped as one schema (`pg_dump -n`, `DROP SCHEMA … CASCADE`);
its indexes and `seq` numbering are its own. The tenants, credentials and OIDC settings live in
the `lrs` schema (`TenantRegistry`'s tables, created on first use like the tenant schemas).

Why psycopg 3 and psycopg_pool: the maintained PostgreSQL driver for Python, with server-side
parameters, array adaptation for set-based writes (`unnest`), pipelining, and a thread-safe
pool for the LRS's worker threads. Connections run in autocommit; writes open explicit
transactions, so a read never keeps a transaction open.

Durability: a write returns after `COMMIT`, and sessions run with `synchronous_commit` at
least `on` (a server or role configured with `off` is overridden for the LRS's sessions),
so an acknowledged statement or document is in PostgreSQL's flushed WAL.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from vigie.errors import VigieError
from vigie.lrs.errors import LrsError
from vigie.lrs.store import check_tenant

__all__ = [
    "REGISTRY_SCHEMA",
    "DatabaseUnreachable",
    "PostgresDatabase",
    "PostgresRegistryDatabase",
    "StorageUnavailable",
    "lock_is_free",
    "lock_transaction",
    "tenant_schema",
]

REGISTRY_SCHEMA = "lrs"
_CONNECT_TIMEOUT = 10  # seconds, to open a connection and to wait for a free pooled one

# `documents` last: its existence tells `PostgresDatabase.setup` that all of it ran.
_TENANT_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.statements (
    seq bigint PRIMARY KEY,
    id text NOT NULL UNIQUE,
    stored timestamptz NOT NULL,
    ref text,
    is_voiding boolean NOT NULL DEFAULT false,
    voided boolean NOT NULL DEFAULT false,
    authority text,
    digest text NOT NULL,
    body text NOT NULL
);
CREATE INDEX IF NOT EXISTS statements_ref ON {s}.statements (ref) WHERE ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS statements_stored ON {s}.statements (stored);
CREATE INDEX IF NOT EXISTS statements_authority ON {s}.statements (authority, seq);
CREATE TABLE IF NOT EXISTS {s}.keys (
    kind text NOT NULL,
    value text NOT NULL,
    broad boolean NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (kind, value, broad, seq)
);
CREATE INDEX IF NOT EXISTS keys_seq ON {s}.keys (seq);
CREATE TABLE IF NOT EXISTS {s}.attachments (
    sha2 text PRIMARY KEY,
    content bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.documents (
    kind text NOT NULL,
    activity_id text NOT NULL,
    agent_key text NOT NULL,
    registration text NOT NULL,
    doc_id text NOT NULL,
    content_type text NOT NULL,
    content bytea NOT NULL,
    etag text NOT NULL,
    updated timestamptz NOT NULL,
    PRIMARY KEY (kind, activity_id, agent_key, registration, doc_id)
);
"""


class DatabaseUnreachable(VigieError):
    """The LRS's PostgreSQL database cannot be connected to at start-up (names it, says why)."""


class StorageUnavailable(LrsError):
    """The database stopped answering while serving: 503, the client may retry."""

    status = 503


def tenant_schema(tenant: str) -> str:
    """`lrs_<tenant>`; a name beyond PostgreSQL's 63 bytes keeps 50 characters and a digest,
    since PostgreSQL would silently truncate it and two tenants could share a schema."""
    name = f"lrs_{check_tenant(tenant)}"
    if len(name) > 63:
        name = f"lrs_{tenant[:50]}_{hashlib.sha256(tenant.encode()).hexdigest()[:8]}"
    return name


def _where(conninfo: str) -> str:
    """`user@host:port/dbname` of a connection string, without its password."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "(unreadable URI)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    return f"{user}{host}:{parts.get('port') or 5432}/{parts.get('dbname') or '(default)'}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _configure(connection: psycopg.Connection[Any]) -> None:
    """Session settings of every pooled connection: unqualified names are the registry's, and
    a commit waits for the WAL flush whatever the server's default."""
    connection.execute(f"SET search_path TO {REGISTRY_SCHEMA}")
    row = connection.execute("SELECT current_setting('synchronous_commit')").fetchone()
    if row is not None and row[0] == "off":
        connection.execute("SET synchronous_commit TO on")


class PostgresDatabase:
    """One PostgreSQL database for the whole LRS: a connection pool shared by the registry, the
    statement store and the document store, and the tenant schemas it has made sure exist.

    `uri` is a libpq URI or connection string (`postgresql://vigie@db.example:5432/lrs`); the
    password comes separately (from an environment variable) so it never sits in a
    configuration file or a process list. Each user calls `attach` once and `close` once; the
    pool closes with its last user.
    """

    def __init__(
        self, uri: str, *, password: str | None = None, max_connections: int = 10
    ) -> None:
        if not uri.startswith(("postgresql://", "postgres://")) and "=" not in uri:
            raise DatabaseUnreachable(
                f"database {uri!r}: give a PostgreSQL URI, e.g. "
                "postgresql://vigie@db.example:5432/lrs"
            )
        extra = {"password": password} if password is not None else {}
        try:
            conninfo = make_conninfo(uri, **extra)
        except psycopg.ProgrammingError as exc:
            raise DatabaseUnreachable(
                f"database {uri.split('@')[-1]!r} is not a valid PostgreSQL URI "
                f"({_first_line(exc)})"
            ) from None
        self.where = _where(conninfo)
        self._check(conninfo)
        self._ready: set[str] = set()
        self._lock = threading.Lock()
        self._users = 0
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo, min_size=1, max_size=max_connections, timeout=_CONNECT_TIMEOUT,
            kwargs={"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT},
            configure=_configure, name="vigie-lrs", open=True,
        )

    def _check(self, conninfo: str) -> None:
        """Connects once, so that a wrong host, port, password or database name fails at
        start-up with the server's reason and what to check, not at the first request."""
        try:
            psycopg.connect(conninfo, connect_timeout=_CONNECT_TIMEOUT).close()
        except psycopg.OperationalError as exc:
            detail = " ".join(line.strip() for line in str(exc).strip().splitlines())
            raise DatabaseUnreachable(
                f"cannot connect to the LRS database {self.where} ({detail}). Check that "
                "PostgreSQL runs on that host and port and accepts connections from here "
                "(listen_addresses, pg_hba.conf), that the database exists (createdb), and "
                "that the password is in the environment variable named by --password-env"
            ) from None

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (autocommit); a lost server is a 503 for the request."""
        try:
            with self.pool.connection() as connection:
                yield connection
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise StorageUnavailable(
                f"the LRS database {self.where} failed to answer ({_first_line(exc)}); "
                "retry later"
            ) from None

    def setup(self, lock: str, script: str, last: str) -> None:
        """Runs idempotent DDL once per process, in one transaction, unless its `last` relation
        exists (then all of it does: a `CREATE INDEX IF NOT EXISTS` would still lock its table
        against writes). Under an advisory lock: two servers creating the same tables at once
        would otherwise collide in PostgreSQL's catalogue."""
        if lock in self._ready:
            return
        with self._lock:
            if lock in self._ready:
                return
            with self.connection() as connection:
                found = connection.execute("SELECT to_regclass(%s) IS NOT NULL", [last])
                row = found.fetchone()
                if row is None or not row[0]:
                    with connection.transaction():
                        lock_transaction(connection, f"ddl:{lock}")
                        connection.execute(script)  # several statements: no parameters
            self._ready.add(lock)

    def tenant(self, tenant: str) -> str:
        """The schema prefix of `tenant`'s tables (`"lrs_caen".`), created on first use."""
        schema = tenant_schema(tenant)
        # a checked tenant name: lowercase letters, digits, '-' and '_', safe between quotes
        self.setup(schema, _TENANT_DDL.format(s=f'"{schema}"'), f'"{schema}".documents')
        return f'"{schema}".'

    def attach(self) -> PostgresDatabase:
        """Counts one more user of the pool (the registry, a store)."""
        with self._lock:
            self._users += 1
        return self

    def close(self) -> None:
        """One user is done; the last one closes the pool."""
        with self._lock:
            self._users -= 1
            last = self._users <= 0
        if last:
            self.pool.close()


def _lock_key(name: str) -> int:
    """The 64-bit advisory lock of `name` (two names sharing one only wait for each other)."""
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_transaction(connection: psycopg.Connection[Any], name: str) -> None:
    """Takes the advisory lock `name` until the end of the current transaction."""
    connection.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(name)])


def lock_is_free(connection: psycopg.Connection[Any], name: str) -> bool:
    """Whether no transaction holds the advisory lock `name` now (a shared lock taken and
    released at once; `connection` is in autocommit, outside any transaction)."""
    key = _lock_key(name)
    row = connection.execute(
        "SELECT CASE WHEN pg_try_advisory_lock_shared(%s) THEN pg_advisory_unlock_shared(%s) "
        "ELSE false END", [key, key]).fetchone()
    return bool(row and row[0])


class _Qmark:
    """A connection taking the registry's `?` placeholders (psycopg's are `%s`; the
    registry's SQL has no other `?` and no `%`)."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters: Sequence[Any], /) -> psycopg.Cursor[Any]:
        return self.connection.execute(sql.replace("?", "%s"), parameters)


class PostgresRegistryDatabase:
    """`tenants.RegistryDatabase` in the `lrs` schema (the pool's `search_path`)."""

    integrity_error: type[Exception] = psycopg.IntegrityError

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database.attach()

    def setup(self, script: str) -> None:
        self.database.setup(
            REGISTRY_SCHEMA, f"CREATE SCHEMA IF NOT EXISTS {REGISTRY_SCHEMA};{script}",
            f"{REGISTRY_SCHEMA}.oidc",  # the last table of the registry's script
        )

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.database.connection() as connection:
            return _Qmark(connection).execute(sql, parameters).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[_Qmark]:
        with self.database.connection() as connection, connection.transaction():
            yield _Qmark(connection)

    def version(self) -> None:
        """PostgreSQL has no cheap change counter to read: credentials are read fresh (one
        indexed query per request)."""
        return None

    def close(self) -> None:
        self.database.close()
