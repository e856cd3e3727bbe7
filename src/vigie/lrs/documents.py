"""Document storage for the State, Activity Profile and Agent Profile resources
(xAPI 1.0.3 Communication 2.2, 2.3, 2.6, 2.7 and 3.1; xAPI 2.0.0 sections 4.1.4 and 4.1.6).

Why the tenant's statements file: a tenant is backed up, moved or deleted as one file, and
isolation holds by construction as for statements (a request of tenant A opens A's file
only). Documents live in their own `documents` table, keyed by (kind, activity_id, agent_key,
registration, doc_id); an absent part is the empty string, so the key is one primary key.

Why preconditions are checked here rather than in the HTTP layer: `If-Match` and
`If-None-Match` must be compared with the document as it is when the write happens. The
comparison, the JSON merge of POST and the write run in one `BEGIN IMMEDIATE` transaction,
so two clients racing on the same ETag cannot both win. WAL with `synchronous=FULL`, as for
statements: a document is on disk before 204 is answered.

One connection per tenant, under a lock: documents are small and written rarely compared
with statements, and this keeps the transaction logic trivially serialised.

The rules (`check_preconditions`, `merge_json`, ETags, the stored key of a document and the
filter of a context) are shared with the PostgreSQL document store (`vigie.lrs.pg_documents`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from vigie.lrs.errors import BadRequest, Conflict, LrsError, NotFound
from vigie.lrs.store import check_tenant

__all__ = [
    "Document",
    "DocumentKey",
    "DocumentKind",
    "DocumentStore",
    "PreconditionFailed",
    "Preconditions",
    "SQLiteDocumentStore",
    "check_preconditions",
    "context_filter",
    "etag_of",
    "is_json_type",
    "key_values",
    "merge_json",
]

DocumentKind = Literal["state", "activity_profile", "agent_profile"]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    agent_key TEXT NOT NULL,
    registration TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content BLOB NOT NULL,
    etag TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (kind, activity_id, agent_key, registration, doc_id)
) WITHOUT ROWID;
"""


class PreconditionFailed(LrsError):
    status = 412


@dataclass(frozen=True)
class DocumentKey:
    """Where a document lives. `registration=None` means "no registration" for a single
    document, and "any registration" when listing or deleting all documents of a context."""

    kind: DocumentKind
    activity_id: str = ""
    agent: str = ""  # formats.agent_key of the Agent
    registration: str | None = None
    doc_id: str = ""


@dataclass(frozen=True)
class Document:
    content: bytes
    content_type: str
    etag: str  # quoted, as sent in the ETag header
    updated: str  # UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ


@dataclass(frozen=True)
class Preconditions:
    """The concurrency headers of a request; `required` makes their absence a 409 when the
    document exists (a PUT: to a profile resource in 1.0.3, Communication 3.1; to any document
    resource in 2.0.0, section 4.1.4), and, with `to_create`, a 400 when it does not (1.0.3
    profiles; 2.0.0 only asks for a precondition when there is something to overwrite)."""

    if_match: str | None = None
    if_none_match: str | None = None
    required: bool = False
    to_create: bool = True


def etag_of(content: bytes) -> str:
    """The quoted lowercase hexadecimal SHA-1 of the content (Communication 3.1)."""
    return f'"{hashlib.sha1(content).hexdigest()}"'


def is_json_type(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/json"


def _matches(header: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match list names `etag` (or is `*`). Weak prefixes and
    missing quotes are tolerated: a client copying the value by hand should not fail."""
    if header.strip() == "*":
        return True
    bare = etag.strip('"')
    for candidate in header.split(","):
        candidate = candidate.strip().removeprefix("W/").strip('"')
        if candidate == bare:
            return True
    return False


def check_preconditions(conditions: Preconditions, current: Document | None) -> None:
    """`PreconditionFailed`, `Conflict` or `BadRequest` when a write must not happen; to be
    called in the write's transaction, with the document as stored at that moment."""
    if conditions.if_match is not None and (
        current is None or not _matches(conditions.if_match, current.etag)
    ):
        found = "no such document" if current is None else f"its ETag is {current.etag}"
        raise PreconditionFailed(
            f"If-Match: {conditions.if_match} does not match ({found}); "
            "GET the document again and retry with its current ETag"
        )
    if (
        conditions.if_none_match is not None
        and current is not None
        and _matches(conditions.if_none_match, current.etag)
    ):
        raise PreconditionFailed(
            f"If-None-Match: {conditions.if_none_match} matches the stored document "
            f"(ETag {current.etag}); it was not modified"
        )
    if conditions.required and conditions.if_match is None and conditions.if_none_match is None:
        if current is not None:
            raise Conflict(
                "the document already exists: check its current state (GET it), then send the "
                f"PUT again with If-Match: {current.etag} to replace it"
            )
        if not conditions.to_create:
            return
        # A profile is written with a precondition even when new (what the ADL suite checks):
        # a client that sends none cannot know it is not overwriting someone else's document.
        raise BadRequest(
            "If-None-Match: a PUT of a profile needs If-None-Match: * to create it, or If-Match "
            "with the ETag of the document it replaces"
        )


def merge_json(current: Document, content: bytes, content_type: str) -> bytes:
    """POST on an existing document: top-level properties of the posted JSON Object replace
    those of the stored JSON Object (Communication 2.2); anything else is a 400."""
    if not is_json_type(current.content_type) or not is_json_type(content_type):
        raise BadRequest(
            "Content-Type: POST merges JSON Objects; the stored document is "
            f"{current.content_type!r} and the posted one {content_type!r} (PUT replaces "
            "a document whatever its type)"
        )
    try:
        stored = json.loads(current.content)
    except ValueError:
        stored = None
    if not isinstance(stored, dict):
        raise BadRequest("the stored document is not a JSON Object and cannot be merged into")
    posted = json.loads(content)
    if not isinstance(posted, dict):
        raise BadRequest("document: POST takes a JSON Object to merge")
    stored.update(posted)
    try:
        merged = json.dumps(stored, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # 1e999 parses as infinity, which JSON cannot write back
        raise BadRequest("document: a number is too large to be stored (e.g. 1e999)") from None
    return merged.encode("utf-8")


def key_values(key: DocumentKey) -> tuple[str, str, str, str, str]:
    """(kind, activity_id, agent_key, registration, doc_id): the stored key of one document,
    an absent part being the empty string."""
    return (key.kind, key.activity_id, key.agent, key.registration or "", key.doc_id)


def context_filter(key: DocumentKey, param: str = "?") -> tuple[str, list[Any]]:
    """The WHERE condition (with `param` placeholders) and parameters selecting the documents
    of a context: `doc_id` ignored, any registration when `key.registration` is None."""
    where = f"kind = {param} AND activity_id = {param} AND agent_key = {param}"
    params: list[Any] = [key.kind, key.activity_id, key.agent]
    if key.registration is not None:
        where += f" AND registration = {param}"
        params.append(key.registration)
    return where, params


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DocumentStore(Protocol):
    """Storage of xAPI documents, one isolated space per tenant."""

    def write(
        self, key: DocumentKey, content: bytes, content_type: str, *, tenant: str,
        merge: bool = False, conditions: Preconditions = Preconditions(),
    ) -> Document:
        """Stores (or, with `merge`, merges into) a document after checking `conditions`
        against the stored one, atomically and durably."""
        ...

    def get(self, key: DocumentKey, *, tenant: str) -> Document:
        """One document; `NotFound` when absent."""
        ...

    def ids(self, key: DocumentKey, *, tenant: str, since: str | None = None) -> tuple[
        list[str], str | None
    ]:
        """Ids of the documents of a context (`doc_id` ignored) updated after `since`, and the
        latest `updated` among them."""
        ...

    def delete(
        self, key: DocumentKey, *, tenant: str, conditions: Preconditions = Preconditions()
    ) -> None:
        """Deletes one document (absent: nothing to do, unless If-Match names it)."""
        ...

    def delete_all(self, key: DocumentKey, *, tenant: str) -> int:
        """Deletes every document of a context (`doc_id` ignored); returns how many."""
        ...

    def close(self) -> None: ...


class _Tenant:
    def __init__(self, path: Path) -> None:
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)


class SQLiteDocumentStore:
    """`DocumentStore` over `root/<tenant>.sqlite`, the files of `SQLiteStatementStore`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._tenants: dict[str, _Tenant] = {}
        self._lock = threading.Lock()

    def _tenant(self, tenant: str) -> _Tenant:
        found = self._tenants.get(tenant)
        if found is None:
            with self._lock:
                found = self._tenants.get(tenant)
                if found is None:
                    found = _Tenant(self.root / f"{check_tenant(tenant)}.sqlite")
                    self._tenants[tenant] = found
        return found

    @contextmanager
    def _transaction(self, tenant: str) -> Iterator[sqlite3.Connection]:
        state = self._tenant(tenant)
        with state.lock:
            state.db.execute("BEGIN IMMEDIATE")
            try:
                yield state.db
            except BaseException:
                state.db.execute("ROLLBACK")
                raise
            state.db.execute("COMMIT")

    def _current(self, db: sqlite3.Connection, key: DocumentKey) -> Document | None:
        row = db.execute(
            "SELECT content, content_type, etag, updated FROM documents WHERE kind = ? AND "
            "activity_id = ? AND agent_key = ? AND registration = ? AND doc_id = ?",
            key_values(key),
        ).fetchone()
        return None if row is None else Document(bytes(row[0]), row[1], row[2], row[3])

    def write(
        self, key: DocumentKey, content: bytes, content_type: str, *, tenant: str,
        merge: bool = False, conditions: Preconditions = Preconditions(),
    ) -> Document:
        with self._transaction(tenant) as db:
            current = self._current(db, key)
            check_preconditions(conditions, current)
            if merge and current is not None:
                content = merge_json(current, content, content_type)
            document = Document(content, content_type, etag_of(content), _now())
            db.execute(
                "INSERT OR REPLACE INTO documents (kind, activity_id, agent_key, registration, "
                "doc_id, content_type, content, etag, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key_values(key), content_type, content, document.etag, document.updated),
            )
        return document

    def get(self, key: DocumentKey, *, tenant: str) -> Document:
        state = self._tenant(tenant)
        with state.lock:
            document = self._current(state.db, key)
        if document is None:
            raise NotFound(f"no document {key.doc_id!r} here")
        return document

    def ids(self, key: DocumentKey, *, tenant: str, since: str | None = None) -> tuple[
        list[str], str | None
    ]:
        where, params = context_filter(key)
        if since is not None:
            where += " AND updated > ?"
            params.append(since)
        state = self._tenant(tenant)
        with state.lock:
            rows = state.db.execute(
                f"SELECT doc_id, max(updated) FROM documents WHERE {where} "
                "GROUP BY doc_id ORDER BY doc_id",
                params,
            ).fetchall()
        latest = max((row[1] for row in rows), default=None)
        return [row[0] for row in rows], latest

    def delete(
        self, key: DocumentKey, *, tenant: str, conditions: Preconditions = Preconditions()
    ) -> None:
        with self._transaction(tenant) as db:
            current = self._current(db, key)
            check_preconditions(conditions, current)
            db.execute(
                "DELETE FROM documents WHERE kind = ? AND activity_id = ? AND agent_key = ? "
                "AND registration = ? AND doc_id = ?",
                key_values(key),
            )

    def delete_all(self, key: DocumentKey, *, tenant: str) -> int:
        where, params = context_filter(key)
        with self._transaction(tenant) as db:
            return db.execute(f"DELETE FROM documents WHERE {where}", params).rowcount

    def close(self) -> None:
        with self._lock:
            for state in self._tenants.values():
                state.db.close()
            self._tenants.clear()
