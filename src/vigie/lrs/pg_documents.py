"""State, Activity Profile and Agent Profile documents in PostgreSQL, in the tenant's schema
(`documents` table of `vigie.lrs.postgres`), with the rules of `vigie.lrs.documents`.

Why an advisory lock per context (tenant, kind, activity, agent) around each write:
`If-Match` / `If-None-Match` are checked against the document as stored when the write
happens, and a row lock cannot guard a document that does not exist yet (two `If-None-Match: *`
creations would both pass). Locking the context rather than the document also orders a
write against a "delete every State of this activity and agent" of the same context. Writes of
different contexts, and all reads, run in parallel. Each write commits before it returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg

from vigie.lrs.documents import (
    Document,
    DocumentKey,
    Preconditions,
    check_preconditions,
    context_filter,
    etag_of,
    key_values,
    merge_json,
)
from vigie.lrs.errors import BadRequest, NotFound
from vigie.lrs.postgres import PostgresDatabase, lock_transaction
from vigie.lrs.statement_batch import iso

__all__ = ["PostgresDocumentStore"]

_COLUMNS = "kind, activity_id, agent_key, registration, doc_id"
_ONE = " AND ".join(f"{column} = %s" for column in _COLUMNS.split(", "))
_NONE = Preconditions()


class PostgresDocumentStore:
    """`DocumentStore` over the tenants' schemas of a `PostgresDatabase`."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database.attach()

    def close(self) -> None:
        self.database.close()

    @contextmanager
    def _writing(
        self, key: DocumentKey, tenant: str
    ) -> Iterator[tuple[psycopg.Connection[Any], str]]:
        """A transaction holding the lock of the key's context; a key too long for
        PostgreSQL's index is a 400 rather than a failure of the server."""
        prefix = self._prefix(key, tenant)
        context = "\x1f".join((prefix, key.kind, key.activity_id, key.agent))
        with self.database.connection() as connection:
            try:
                with connection.transaction():
                    lock_transaction(connection, f"documents:{context}")
                    yield connection, prefix
            except psycopg.errors.ProgramLimitExceeded:
                raise BadRequest(
                    "activityId, agent and the document id are too long together to be "
                    "indexed (keep them under 2,000 bytes)"
                ) from None

    def _prefix(self, key: DocumentKey, tenant: str) -> str:
        """The tenant's schema prefix, for a key PostgreSQL can hold."""
        if any("\x00" in part for part in key_values(key)):
            raise BadRequest(
                "activityId, agent and the document id must not contain the character U+0000, "
                "which PostgreSQL text cannot hold"
            )
        return self.database.tenant(tenant)

    @staticmethod
    def _current(
        connection: psycopg.Connection[Any], prefix: str, key: DocumentKey
    ) -> Document | None:
        row = connection.execute(
            f"SELECT content, content_type, etag, updated FROM {prefix}documents WHERE {_ONE}",
            key_values(key),
        ).fetchone()
        return None if row is None else Document(bytes(row[0]), row[1], row[2], iso(row[3]))

    def write(
        self, key: DocumentKey, content: bytes, content_type: str, *, tenant: str,
        merge: bool = False, conditions: Preconditions = _NONE,
    ) -> Document:
        with self._writing(key, tenant) as (connection, prefix):
            current = self._current(connection, prefix, key)
            check_preconditions(conditions, current)
            if merge and current is not None:
                content = merge_json(current, content, content_type)
            document = Document(content, content_type, etag_of(content), iso(datetime.now(UTC)))
            connection.execute(
                f"INSERT INTO {prefix}documents ({_COLUMNS}, content_type, content, etag, "
                f"updated) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT ({_COLUMNS}) "
                "DO UPDATE SET content_type = excluded.content_type, content = excluded.content, "
                "etag = excluded.etag, updated = excluded.updated",
                [*key_values(key), content_type, content, document.etag, document.updated],
            )
        return document

    def get(self, key: DocumentKey, *, tenant: str) -> Document:
        prefix = self._prefix(key, tenant)
        with self.database.connection() as connection:
            document = self._current(connection, prefix, key)
        if document is None:
            raise NotFound(f"no document {key.doc_id!r} here")
        return document

    def ids(self, key: DocumentKey, *, tenant: str, since: str | None = None) -> tuple[
        list[str], str | None
    ]:
        where, params = context_filter(key, "%s")
        if since is not None:
            where += " AND updated > %s"
            params.append(since)
        prefix = self._prefix(key, tenant)
        with self.database.connection() as connection:
            rows = connection.execute(
                f"SELECT doc_id, max(updated) FROM {prefix}documents WHERE {where} "
                "GROUP BY doc_id ORDER BY doc_id COLLATE \"C\"",
                params,
            ).fetchall()
        latest = max((row[1] for row in rows), default=None)
        return [row[0] for row in rows], None if latest is None else iso(latest)

    def delete(
        self, key: DocumentKey, *, tenant: str, conditions: Preconditions = _NONE
    ) -> None:
        with self._writing(key, tenant) as (connection, prefix):
            check_preconditions(conditions, self._current(connection, prefix, key))
            connection.execute(f"DELETE FROM {prefix}documents WHERE {_ONE}", key_values(key))

    def delete_all(self, key: DocumentKey, *, tenant: str) -> int:
        where, params = context_filter(key, "%s")
        with self._writing(key, tenant) as (connection, prefix):
            deleted = connection.execute(f"DELETE FROM {prefix}documents WHERE {where}", params)
            return deleted.rowcount
