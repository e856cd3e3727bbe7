"""Tenants and their credentials, in `root/tenants.sqlite` or in PostgreSQL's `lrs` schema.

Why a database rather than a JSON file: the CLI adds or revokes credentials while the server
runs; a database gives both processes a consistent view without a reload signal, and a revoked
credential stops working at the next request. The registry's SQL is written once and runs on
either database through `RegistryDatabase` (SQLite here, PostgreSQL in `vigie.lrs.postgres`):
`?` placeholders, `ON CONFLICT`, nothing engine-specific.

Secrets are generated here, shown once, and stored only as scrypt hashes. Each credential
belongs to one tenant, carries xAPI scopes, and is the `authority` of the statements it
writes (an Agent whose account is the credential's key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from vigie.lrs.store import check_tenant

__all__ = [
    "SCOPES",
    "Credential",
    "NewCredential",
    "OidcConfig",
    "RegistryDatabase",
    "SQLiteRegistryDatabase",
    "TenantRegistry",
    "hash_secret",
    "verify_secret",
]

SCOPES = (
    "statements/write", "statements/read/mine", "statements/read",
    "all/read", "all", "state", "define", "profile",
)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    name TEXT PRIMARY KEY,
    home_page TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS credentials (
    key TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oidc (
    tenant TEXT PRIMARY KEY REFERENCES tenants(name) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    audience TEXT NOT NULL,
    jwks_url TEXT,
    jwks_file TEXT,
    scope_claim TEXT NOT NULL,
    user_claim TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (issuer, audience)
);
"""
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def hash_secret(secret: str, *, n: int = _SCRYPT["n"]) -> str:
    """`scrypt$n$r$p$salt$hash`: slow on purpose, so a stolen file does not reveal secrets."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}$8$1${b64(salt).decode()}${b64(digest).decode()}"


def verify_secret(secret: str, record: str) -> bool:
    """Whether `secret` matches a `hash_secret` record (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = record.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            secret.encode("utf-8"), salt=base64.b64decode(salt),
            n=int(n), r=int(r), p=int(p), dklen=32,
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


@dataclass(frozen=True)
class Credential:
    """A stored credential (without its secret)."""

    key: str
    tenant: str
    label: str
    scopes: tuple[str, ...]
    secret_hash: str
    home_page: str

    @property
    def authority(self) -> dict[str, Any]:
        """The Agent recorded as `authority` of the statements this credential writes."""
        return {
            "objectType": "Agent",
            "name": self.label,
            "account": {"homePage": self.home_page, "name": self.key},
        }

    def allows(self, *wanted: str) -> bool:
        return "all" in self.scopes or any(scope in self.scopes for scope in wanted)


@dataclass(frozen=True)
class OidcConfig:
    """How a tenant accepts OIDC bearer tokens (JWTs): whose (`issuer`), for whom
    (`audience`), checked against which keys (exactly one of `jwks_url`, `jwks_file`), which
    claims carry the scopes and the user, and the most scopes a token may grant."""

    tenant: str
    issuer: str
    audience: str
    jwks_url: str | None
    jwks_file: str | None
    scope_claim: str = "scope"
    user_claim: str = "sub"
    scopes: tuple[str, ...] = SCOPES

    @property
    def jwks_source(self) -> str:
        return self.jwks_url or self.jwks_file or ""


def check_jwks_url(url: str) -> None:
    """JWKS are fetched over https only (plain http is accepted on the loopback interface, for
    a local identity provider or a test)."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        hostname = None
    if hostname and "@" not in parts.netloc:
        if parts.scheme == "https":
            return
        if parts.scheme == "http" and hostname in _LOOPBACK_HOSTS:
            return
    raise ValueError(f"jwks url {url!r}: must be an https:// URL (http:// only on loopback)")


class RegistryCursor(Protocol):
    """What a write of the registry reads back: the rows touched, or the first row."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...


class RegistryConnection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any], /) -> RegistryCursor: ...


class RegistryDatabase(Protocol):
    """Where the registry's tables live: portable SQL with `?` placeholders in, rows out."""

    #: What inserting a duplicate key raises.
    integrity_error: type[Exception]

    def setup(self, script: str) -> None:
        """Runs the idempotent `CREATE TABLE IF NOT EXISTS` script."""
        ...

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read, seeing every committed write."""
        ...

    def transaction(self) -> AbstractContextManager[RegistryConnection]:
        """A connection whose writes are committed (durably) at the end of the block, or rolled
        back if it raises."""
        ...

    def version(self) -> int | None:
        """A number that changes whenever the registry may have changed (a write of any
        process) since the last call; None when the database cannot tell without reading
        the tables, and callers then read what they need fresh."""
        ...

    def close(self) -> None: ...


class SQLiteRegistryDatabase:
    """The registry in one SQLite file (WAL, `synchronous=FULL`), a connection per thread.

    `version` is SQLite's `PRAGMA data_version` on a connection of its own that never writes:
    it changes when any other connection, in this process or another one (the CLI revoking a
    credential), commits to the file, and reading it touches no table.
    """

    integrity_error: type[Exception] = sqlite3.IntegrityError

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._watch: sqlite3.Connection | None = None
        self._watch_lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
            with self._lock:
                self._all.append(connection)
        return connection

    def setup(self, script: str) -> None:
        with self._db() as db:
            db.executescript(script)

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db().execute(sql, parameters).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[RegistryConnection]:
        with self._db() as db:
            yield db

    def version(self) -> int:
        with self._watch_lock:
            if self._watch is None:
                self._watch = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            version: int = self._watch.execute("PRAGMA data_version").fetchone()[0]
            return version

    def close(self) -> None:
        with self._lock:
            for connection in self._all:
                connection.close()
            self._all.clear()
        self._local = threading.local()
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None


@dataclass(frozen=True)
class NewCredential:
    """What `add_credential` returns: the only time the secret is ever visible."""

    key: str
    secret: str
    tenant: str
    scopes: tuple[str, ...]


class TenantRegistry:
    """Tenants and credentials, in `where/tenants.sqlite` for a folder, or in the given
    database (`vigie.lrs.postgres.PostgresRegistryDatabase`); safe to share between threads."""

    def __init__(
        self, where: Path | RegistryDatabase, *, scrypt_n: int = _SCRYPT["n"]
    ) -> None:
        if isinstance(where, Path):
            where.mkdir(parents=True, exist_ok=True)
        self.database: RegistryDatabase = (
            SQLiteRegistryDatabase(where / "tenants.sqlite") if isinstance(where, Path) else where
        )
        self.scrypt_n = scrypt_n
        self.database.setup(_SCHEMA)

    def close(self) -> None:
        self.database.close()

    # -- tenants ---------------------------------------------------------------------------

    def add_tenant(self, name: str, *, home_page: str | None = None) -> None:
        """Creates a tenant; its credentials' authority Agents use `home_page`."""
        check_tenant(name)
        page = home_page or f"urn:vigie:lrs:{name}"
        try:
            with self.database.transaction() as db:
                db.execute(
                    "INSERT INTO tenants (name, home_page, created) VALUES (?, ?, ?)",
                    (name, page, _now()),
                )
        except self.database.integrity_error:
            raise ValueError(f"tenant {name!r} already exists") from None

    def tenants(self) -> list[dict[str, Any]]:
        rows = self.database.rows(
            "SELECT t.name, t.home_page, t.created, count(c.key) FROM tenants t "
            "LEFT JOIN credentials c ON c.tenant = t.name GROUP BY t.name ORDER BY t.name"
        )
        return [
            {"name": name, "home_page": page, "created": created, "credentials": count}
            for name, page, created, count in rows
        ]

    def remove_tenant(self, name: str) -> None:
        """Removes the tenant and its credentials; its statements file is left in place
        (deleting learning records is a decision for a person, not a side effect)."""
        with self.database.transaction() as db:
            if db.execute("DELETE FROM tenants WHERE name = ?", (name,)).rowcount == 0:
                raise ValueError(f"no tenant {name!r}")

    # -- credentials -----------------------------------------------------------------------

    def add_credential(
        self, tenant: str, *, scopes: tuple[str, ...] = ("statements/write", "statements/read"),
        label: str = "",
    ) -> NewCredential:
        """Creates a credential for `tenant` and returns its secret, never stored in clear."""
        unknown = [scope for scope in scopes if scope not in SCOPES]
        if unknown or not scopes:
            raise ValueError(f"unknown scope(s) {unknown}; choose among {', '.join(SCOPES)}")
        key = secrets.token_hex(10)
        secret = secrets.token_urlsafe(30)
        record = hash_secret(secret, n=self.scrypt_n)
        with self.database.transaction() as db:
            if db.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone() is None:
                raise ValueError(f"no tenant {tenant!r}: add it first")
            db.execute(
                "INSERT INTO credentials (key, tenant, label, scopes, secret_hash, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, tenant, label or key, json.dumps(list(scopes)), record, _now()),
            )
        return NewCredential(key=key, secret=secret, tenant=tenant, scopes=tuple(scopes))

    def credentials(self, tenant: str | None = None) -> list[dict[str, Any]]:
        rows = self.database.rows(
            "SELECT key, tenant, label, scopes, created FROM credentials "
            "WHERE tenant = coalesce(?, tenant) ORDER BY tenant, created",
            (tenant,),
        )
        return [
            {"key": key, "tenant": t, "label": label, "scopes": json.loads(scopes),
             "created": created}
            for key, t, label, scopes, created in rows
        ]

    def revoke_credential(self, key: str) -> None:
        with self.database.transaction() as db:
            if db.execute("DELETE FROM credentials WHERE key = ?", (key,)).rowcount == 0:
                raise ValueError(f"no credential {key!r}")

    def version(self) -> int | None:
        """Changes whenever tenants, credentials or OIDC settings may have changed (see
        `RegistryDatabase.version`); None when the database cannot tell."""
        return self.database.version()

    def credential(self, key: str) -> Credential | None:
        """The credential with this key, read fresh (revocations apply at once)."""
        rows = self.database.rows(
            "SELECT c.key, c.tenant, c.label, c.scopes, c.secret_hash, t.home_page "
            "FROM credentials c JOIN tenants t ON t.name = c.tenant WHERE c.key = ?",
            (key,),
        )
        if not rows:
            return None
        key, tenant, label, scopes, secret_hash, home_page = rows[0]
        return Credential(key, tenant, label, tuple(json.loads(scopes)), secret_hash, home_page)


    # -- OIDC bearer tokens ------------------------------------------------------------------

    def set_oidc(
        self, tenant: str, *, issuer: str, audience: str, jwks_url: str | None = None,
        jwks_file: str | None = None, scope_claim: str = "scope", user_claim: str = "sub",
        scopes: tuple[str, ...] = SCOPES,
    ) -> OidcConfig:
        """Makes `tenant` accept bearer tokens of `issuer` for `audience` (replacing its
        previous OIDC configuration). An (issuer, audience) pair belongs to one tenant, since
        it is what tells which tenant a token is for."""
        if not issuer.strip() or not audience.strip():
            raise ValueError("issuer and audience must not be empty")
        if (jwks_url is None) == (jwks_file is None):
            raise ValueError("give exactly one JWKS source: a URL or a file")
        if jwks_url is not None:
            check_jwks_url(jwks_url)
        if not scope_claim or not user_claim:
            raise ValueError("the scope and user claims must not be empty")
        unknown = [scope for scope in scopes if scope not in SCOPES]
        if unknown or not scopes:
            raise ValueError(f"unknown scope(s) {unknown}; choose among {', '.join(SCOPES)}")
        allowed = tuple(scope for scope in SCOPES if scope in scopes)
        with self.database.transaction() as db:
            if db.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone() is None:
                raise ValueError(f"no tenant {tenant!r}: add it first")
            other = db.execute(
                "SELECT tenant FROM oidc WHERE issuer = ? AND audience = ? AND tenant != ?",
                (issuer, audience, tenant),
            ).fetchone()
            if other is not None:
                raise ValueError(
                    f"tenant {other[0]!r} already accepts tokens of {issuer} for audience "
                    f"{audience!r}; give each tenant its own audience (client id)"
                )
            db.execute(
                "INSERT INTO oidc (tenant, issuer, audience, jwks_url, jwks_file, scope_claim, "
                "user_claim, scopes, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (tenant) DO UPDATE SET issuer = excluded.issuer, "
                "audience = excluded.audience, jwks_url = excluded.jwks_url, "
                "jwks_file = excluded.jwks_file, scope_claim = excluded.scope_claim, "
                "user_claim = excluded.user_claim, scopes = excluded.scopes, "
                "created = excluded.created",
                (tenant, issuer, audience, jwks_url, jwks_file, scope_claim, user_claim,
                 json.dumps(list(allowed)), _now()),
            )
        return OidcConfig(tenant, issuer, audience, jwks_url, jwks_file, scope_claim,
                          user_claim, allowed)

    def oidc(self, tenant: str) -> OidcConfig | None:
        """The OIDC configuration of `tenant`, if it accepts bearer tokens."""
        configs = self._oidc_rows("WHERE tenant = ?", (tenant,))
        return configs[0] if configs else None

    def oidc_for_issuer(self, issuer: str) -> list[OidcConfig]:
        """The configurations of every tenant accepting tokens of `issuer` (read fresh)."""
        return self._oidc_rows("WHERE issuer = ?", (issuer,))

    def remove_oidc(self, tenant: str) -> None:
        with self.database.transaction() as db:
            if db.execute("DELETE FROM oidc WHERE tenant = ?", (tenant,)).rowcount == 0:
                raise ValueError(f"tenant {tenant!r} has no OIDC configuration")

    def _oidc_rows(self, where: str, params: tuple[str, ...]) -> list[OidcConfig]:
        rows = self.database.rows(
            "SELECT tenant, issuer, audience, jwks_url, jwks_file, scope_claim, user_claim, "
            f"scopes FROM oidc {where} ORDER BY tenant",
            params,
        )
        return [
            OidcConfig(tenant, issuer, audience, url, file, scope_claim, user_claim,
                       tuple(json.loads(scopes)))
            for tenant, issuer, audience, url, file, scope_claim, user_claim, scopes in rows
        ]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
