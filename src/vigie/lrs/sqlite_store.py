"""The embedded statement store: one SQLite database per tenant, under one folder.

Why SQLite: a university LRS receives tens of statements a second at peak, which one SQLite
writer in WAL mode absorbs with room to spare, with no server to run. Why one file per
tenant: isolation holds by construction (a query of tenant A opens A's file only), and a
tenant is backed up, moved or deleted as one file.

Durability: WAL with `synchronous=FULL` syncs the log at every commit, so a statement is on
disk before its id is answered. Writes of one tenant go through one connection under a lock
(SQLite allows one writer anyway); reads use one connection per thread, which WAL lets run
while a write is under way.

Filters are indexed through one `keys` table of (kind, value, broad, seq) rows: `verb`,
`registration`, `agent` and `activity` values of each statement; `broad` marks the values
only matched with `related_agents` / `related_activities`. A statement whose object is a
StatementRef inherits the rows of the statement it targets, which implements the
"filter conditions for StatementRefs" rule with plain index lookups.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vigie.lrs.errors import BadRequest, Conflict, NotFound
from vigie.lrs.formats import agent_key, canonical_format, comparison_digest, ids_format
from vigie.lrs.models import VOIDED
from vigie.lrs.store import StatementQuery, check_tenant

__all__ = ["MAX_LIMIT", "SQLiteStatementStore"]

MAX_LIMIT = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS statements (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    stored TEXT NOT NULL,
    ref TEXT,
    is_voiding INTEGER NOT NULL DEFAULT 0,
    voided INTEGER NOT NULL DEFAULT 0,
    authority TEXT,
    digest TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS statements_ref ON statements(ref) WHERE ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS statements_stored ON statements(stored);
CREATE INDEX IF NOT EXISTS statements_authority ON statements(authority, seq);
CREATE TABLE IF NOT EXISTS keys (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    broad INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (kind, value, broad, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keys_seq ON keys(seq);
CREATE TABLE IF NOT EXISTS attachments (
    sha2 TEXT PRIMARY KEY,
    content BLOB NOT NULL
) WITHOUT ROWID;
"""


def _rows_in(db: sqlite3.Connection, sql: str, values: list[str]) -> list[tuple[Any, ...]]:
    """Rows of `sql` whose `IN ({})` takes `values`, 500 at a time (SQLite's parameter limit)."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        rows += db.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
    return rows


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _non_finite(value: Any, path: str = "") -> str | None:
    """The path of the first NaN or infinite number in a JSON value, if any (error path only)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ()
    )
    for key, item in items:
        where = f"{path}[{key}]" if isinstance(key, int) else (
            f"{path}.{key}" if path else str(key)
        )
        found = _non_finite(item, where)
        if found is not None:
            return found
    return None


def _agents(agent: dict[str, Any]) -> Iterator[str]:
    """The identifier of an Agent or Group, and those of a Group's members."""
    key = agent_key(agent)
    if key is not None:
        yield key
    for member in agent.get("member", ()):
        member_key = agent_key(member)
        if member_key is not None:
            yield member_key


def _index_rows(statement: dict[str, Any], sub: bool = False) -> Iterator[tuple[str, str, int]]:
    """(kind, value, broad) rows of a statement; a SubStatement's are all broad."""
    narrow = 1 if sub else 0
    if not sub:
        yield "verb", statement["verb"]["id"], 0
    for key in _agents(statement["actor"]):
        yield "agent", key, narrow
    obj = statement["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        yield "activity", obj["id"], narrow
    elif kind in ("Agent", "Group"):
        for key in _agents(obj):
            yield "agent", key, narrow
    elif kind == "SubStatement":
        yield from _index_rows(obj, sub=True)
    if "authority" in statement:
        for key in _agents(statement["authority"]):
            yield "agent", key, 1
    context = statement.get("context") or {}
    if "registration" in context and not sub:
        yield "registration", context["registration"].lower(), 0
    for role in ("instructor", "team"):
        if role in context:
            for key in _agents(context[role]):
                yield "agent", key, 1
    for activities in (context.get("contextActivities") or {}).values():
        for activity in activities:
            yield "activity", activity["id"], 1


class _TenantDatabase:
    """One tenant's database file: a locked writer and per-thread readers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.writer = self._connect()
        self.writer.executescript(_SCHEMA)
        self.local = threading.local()
        self.readers: list[sqlite3.Connection] = []
        row = self.writer.execute("SELECT max(stored) FROM statements").fetchone()
        self.last_stored = (
            datetime.fromisoformat(row[0]) if row and row[0] else datetime.min.replace(tzinfo=UTC)
        )

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    def reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self.local, "connection", None)
        if connection is None:
            connection = self._connect()
            self.local.connection = connection
            with self.lock:
                self.readers.append(connection)
        return connection

    def next_stored(self) -> str:
        """Strictly increasing stored times, so that stored order is insertion order."""
        moment = max(_now(), self.last_stored + timedelta(microseconds=1))
        self.last_stored = moment
        return _iso(moment)

    def close(self) -> None:
        with self.lock:
            for connection in [self.writer, *self.readers]:
                connection.close()
            self.readers.clear()


class SQLiteStatementStore:
    """`StatementStore` over `root/<tenant>.sqlite` files."""

    def __init__(self, root: Path, *, max_limit: int = MAX_LIMIT) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_limit = max_limit
        self._databases: dict[str, _TenantDatabase] = {}
        self._lock = threading.Lock()

    def _database(self, tenant: str) -> _TenantDatabase:
        database = self._databases.get(tenant)
        if database is None:
            with self._lock:
                database = self._databases.get(tenant)
                if database is None:
                    path = self.root / f"{check_tenant(tenant)}.sqlite"
                    database = _TenantDatabase(path)
                    self._databases[tenant] = database
        return database

    def close(self) -> None:
        with self._lock:
            for database in self._databases.values():
                database.close()
            self._databases.clear()

    # -- writing ---------------------------------------------------------------------------

    def insert(self, statements: list[dict[str, Any]], *, tenant: str) -> list[str]:
        return self.insert_with_attachments(statements, {}, tenant=tenant)

    def insert_with_attachments(
        self, statements: list[dict[str, Any]], attachments: Mapping[str, bytes], *, tenant: str
    ) -> list[str]:
        """`insert`, plus attachment contents (lowercase sha2 → bytes) in the same transaction:
        on disk before the ids are answered, one copy per sha2 in the tenant's own file."""
        database = self._database(tenant)
        ids = [str(s.get("id") or uuid.uuid4()).lower() for s in statements]
        if len(set(ids)) != len(ids):
            repeated = next(i for n, i in enumerate(ids) if i in ids[:n])
            raise BadRequest(f"id: the batch contains statement {repeated} more than once")
        with database.lock, self._transaction(database.writer) as db:
            existing = self._existing(db, ids)
            voiding_in_batch = {
                i for i, s in zip(ids, statements, strict=True) if s["verb"]["id"] == VOIDED
            }
            new_ids: list[str] = []
            for statement_id, statement in zip(ids, statements, strict=True):
                digest = comparison_digest({**statement, "id": statement_id})
                if statement_id in existing:
                    if existing[statement_id] != digest:
                        raise Conflict(
                            f"id: statement {statement_id} is already stored with a different "
                            "content; statements are immutable"
                        )
                    continue
                self._check_voiding(db, statement, voiding_in_batch)
                self._insert_one(db, database, statement_id, statement, digest)
                new_ids.append(statement_id)
            self._mark_voided(db, new_ids, statements, ids)
            db.executemany(
                "INSERT OR IGNORE INTO attachments (sha2, content) VALUES (?, ?)",
                [(sha2.lower(), content) for sha2, content in attachments.items()],
            )
        return ids

    def attachment_data(self, hashes: Iterable[str], *, tenant: str) -> dict[str, bytes]:
        """The stored contents among `hashes` (lowercase sha2); absent ones are left out."""
        db = self._database(tenant).reader()
        wanted = list(dict.fromkeys(h.lower() for h in hashes))
        rows = _rows_in(db, "SELECT sha2, content FROM attachments WHERE sha2 IN ({})", wanted)
        return {sha2: bytes(content) for sha2, content in rows}

    @staticmethod
    @contextmanager
    def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _existing(db: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
        return dict(_rows_in(db, "SELECT id, digest FROM statements WHERE id IN ({})", ids))

    @staticmethod
    def _check_voiding(
        db: sqlite3.Connection, statement: dict[str, Any], voiding_in_batch: set[str]
    ) -> None:
        if statement["verb"]["id"] != VOIDED:
            return
        target = statement["object"]["id"].lower()
        row = db.execute("SELECT is_voiding FROM statements WHERE id = ?", (target,)).fetchone()
        if target in voiding_in_batch or (row is not None and row[0]):
            raise BadRequest(
                f"object.id: statement {target} is itself a voiding statement and cannot be voided"
            )

    @staticmethod
    def _insert_one(
        db: sqlite3.Connection,
        database: _TenantDatabase,
        statement_id: str,
        statement: dict[str, Any],
        digest: str,
    ) -> None:
        stored = database.next_stored()
        body = {**statement, "id": statement_id, "stored": stored}
        body.setdefault("version", "1.0.0")
        body.setdefault("timestamp", stored)  # Data 2.4.7: "set to the value of stored"
        obj = statement["object"]
        ref = obj["id"].lower() if obj.get("objectType") == "StatementRef" else None
        authority = agent_key(statement["authority"]) if "authority" in statement else None
        try:  # JSON has no NaN or Infinity (1e999 parses as one): stored, it breaks every read
            text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except ValueError:
            where = _non_finite(body) or "statement"
            raise BadRequest(
                f"{where}: must be a finite number (NaN, Infinity and numbers beyond "
                "±1.8e308 are not JSON numbers)"
            ) from None
        cursor = db.execute(
            "INSERT INTO statements (id, stored, ref, is_voiding, authority, digest, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                statement_id, stored, ref, int(statement["verb"]["id"] == VOIDED), authority,
                digest, text,
            ),
        )
        seq = cursor.lastrowid
        db.executemany(
            "INSERT OR IGNORE INTO keys (kind, value, broad, seq) VALUES (?, ?, ?, ?)",
            [(kind, value, broad, seq) for kind, value, broad in _index_rows(statement)],
        )
        if ref is not None:  # a targeting statement matches what its target matches
            db.execute(
                "INSERT OR IGNORE INTO keys (kind, value, broad, seq) "
                "SELECT k.kind, k.value, k.broad, ? FROM keys k "
                "JOIN statements t ON t.seq = k.seq WHERE t.id = ?",
                (seq, ref),
            )
        # statements stored earlier that target this one now match what it matches
        db.execute(
            "INSERT OR IGNORE INTO keys (kind, value, broad, seq) "
            "SELECT k.kind, k.value, k.broad, r.seq FROM keys k "
            "JOIN statements r ON r.ref = ? WHERE k.seq = ?",
            (statement_id, seq),
        )

    @staticmethod
    def _mark_voided(
        db: sqlite3.Connection,
        new_ids: list[str],
        statements: list[dict[str, Any]],
        ids: list[str],
    ) -> None:
        """A statement is voided iff it is not voiding and a voiding statement targets it;
        either may arrive first."""
        targets = [
            s["object"]["id"].lower()
            for i, s in zip(ids, statements, strict=True)
            if s["verb"]["id"] == VOIDED and i in new_ids
        ]
        candidates = list(dict.fromkeys([*new_ids, *targets]))
        db.executemany(
            "UPDATE statements SET voided = 1 WHERE id = ? AND is_voiding = 0 AND voided = 0 "
            "AND EXISTS (SELECT 1 FROM statements v WHERE v.ref = statements.id "
            "AND v.is_voiding = 1)",
            [(c,) for c in candidates],
        )

    # -- reading ---------------------------------------------------------------------------

    def get(self, statement_id: str, *, tenant: str, voided: bool = False) -> dict[str, Any]:
        db = self._database(tenant).reader()
        row = db.execute(
            "SELECT body, voided FROM statements WHERE id = ?", (statement_id.lower(),)
        ).fetchone()
        if row is None or bool(row[1]) != voided:
            if row is not None and row[1]:
                hint = " (it is voided: ask with voidedStatementId)"
            elif row is not None:
                hint = " (it is not voided: ask with statementId)"
            else:
                hint = ""
            raise NotFound(f"no statement {statement_id}{hint}")
        result: dict[str, Any] = json.loads(row[0])
        return result

    def query(
        self, query: StatementQuery, *, tenant: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        db = self._database(tenant).reader()
        if query.bound is None:
            row = db.execute("SELECT coalesce(max(seq), 0) FROM statements").fetchone()
            query = replace(query, bound=row[0])
        limit = self.max_limit if query.limit <= 0 else min(query.limit, self.max_limit)
        where = ["s.voided = 0", "s.seq <= ?"]
        params: list[Any] = [query.bound]
        if query.after is not None:
            where.append("s.seq > ?" if query.ascending else "s.seq < ?")
            params.append(query.after)
        for kind, value, broad in (
            ("agent", query.agent, query.related_agents),
            ("verb", query.verb, True),
            ("activity", query.activity, query.related_activities),
            ("registration", query.registration and query.registration.lower(), True),
        ):
            if value is None:
                continue
            narrow = "" if broad else " AND k.broad = 0"
            where.append(
                "s.seq IN (SELECT k.seq FROM keys k WHERE k.kind = ? AND k.value = ?"
                f"{narrow})"
            )
            params += [kind, value]
        if query.since is not None:
            where.append("s.stored > ?")
            params.append(query.since)
        if query.until is not None:
            where.append("s.stored <= ?")
            params.append(query.until)
        if query.authority is not None:
            where.append("s.authority = ?")
            params.append(query.authority)
        order = "ASC" if query.ascending else "DESC"
        rows = db.execute(
            f"SELECT s.seq, s.body FROM statements s WHERE {' AND '.join(where)} "
            f"ORDER BY s.seq {order} LIMIT ?",
            [*params, limit + 1],
        ).fetchall()
        more = None
        if len(rows) > limit:
            rows = rows[:limit]
            more = replace(query, after=rows[-1][0]).token()
        statements = [self._shape(json.loads(body), query) for _, body in rows]
        return statements, more

    @staticmethod
    def _shape(statement: dict[str, Any], query: StatementQuery) -> dict[str, Any]:
        if query.format == "ids":
            return ids_format(statement)
        if query.format == "canonical":
            return canonical_format(statement, query.languages)
        return statement
