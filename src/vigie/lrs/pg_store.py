"""The production statement store: PostgreSQL, one schema per tenant (`vigie.lrs.postgres`).

Same rules as the embedded store, from the same code: `statement_batch.plan_batch` decides what
a batch writes, `statement_query` writes the SQL of a page. This module reads and writes rows.

Why a per-tenant advisory lock around each write: `seq` must be commit order, or a reader could
take a consistency bound (the last `seq` it sees) while an earlier `seq` is still uncommitted,
and a `more` page or the lake export's cursor would skip that statement for good; voiding
checks and StatementRef index rows also need the batch's view of the store to hold until it
commits. Writes of one tenant therefore run one at a time (as SQLite's single writer does), in
any number of server processes; tenants write in parallel, and reads never wait.

Why set-based writes: a batch is one `INSERT … SELECT FROM unnest(arrays)` per table, whatever
its size, and the reads it depends on go in one pipelined round trip; at the 20,000
statements/s the LRS aims at (batches of 100), per-statement round trips would be the cost.
Commit before answering: `insert` returns once PostgreSQL has flushed the commit to its WAL.
The requests of a tenant that queue while its previous transaction commits are stored together
in the next one, by the tenant's writer thread (`group_commit`): one WAL flush for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psycopg

from vigie.lrs.errors import LrsError
from vigie.lrs.group_commit import GroupCommitStore, Outcome, Write
from vigie.lrs.postgres import (
    PostgresDatabase,
    lock_is_free,
    lock_transaction,
)
from vigie.lrs.statement_batch import (
    BatchPlan,
    Key,
    StoredState,
    StoredStatement,
    batch_refs,
    plan_batch,
)
from vigie.lrs.statement_query import (
    LAST_POSITION,
    MAX_LIMIT,
    bound_sql,
    consistency_sql,
    page,
    page_limit,
    page_sql,
    single,
    through,
)
from vigie.lrs.store import StatementQuery

__all__ = ["PostgresStatementStore"]


class PostgresStatementStore(GroupCommitStore):
    """`StatementStore` (and `AttachmentStore`) in PostgreSQL, a schema per tenant."""

    def __init__(self, database: PostgresDatabase, *, max_limit: int = MAX_LIMIT) -> None:
        self.database = database.attach()
        self.max_limit = max_limit
        super().__init__()

    def close(self) -> None:
        self._writes.close()
        self.database.close()

    # -- writing ---------------------------------------------------------------------------

    def _commit(self, tenant: str, writes: Sequence[Write]) -> list[Outcome]:
        """Stores a group of writes in one transaction (see `group_commit`)."""
        prefix = self.database.tenant(tenant)
        outcomes: list[Outcome] = []
        now: datetime | None = None
        with (
            self.database.connection() as connection,
            connection.pipeline(),  # round trips: BEGIN to the reads, then writes to COMMIT
            connection.transaction(),
        ):
            lock_transaction(connection, f"statements:{prefix}")
            for write in writes:
                ids = [item.id for item in write.batch]
                try:
                    state = _stored_state(connection, prefix, ids, batch_refs(write.batch))
                    # the first read returned, so the lock is held: see `consistency_sql`
                    now = now or datetime.now(UTC)
                    plan = plan_batch(write.batch, state, now)
                except LrsError as exc:
                    outcomes.append(exc)
                    continue
                _write(connection, prefix, plan, write.attachments)
                outcomes.append(ids)
        return outcomes

    def attachment_data(self, hashes: Iterable[str], *, tenant: str) -> dict[str, bytes]:
        """The stored contents among `hashes` (lowercase sha2); absent ones are left out."""
        prefix = self.database.tenant(tenant)
        wanted = list(dict.fromkeys(h.lower() for h in hashes))
        with self.database.connection() as connection:
            rows = connection.execute(
                f"SELECT sha2, content FROM {prefix}attachments WHERE sha2 = ANY(%s)", [wanted]
            ).fetchall()
        return {sha2: bytes(content) for sha2, content in rows}

    # -- reading ---------------------------------------------------------------------------

    def get(self, statement_id: str, *, tenant: str, voided: bool = False) -> dict[str, Any]:
        prefix = self.database.tenant(tenant)
        with self.database.connection() as connection:
            row = connection.execute(
                f"SELECT body, voided FROM {prefix}statements WHERE id = %s",
                [statement_id.lower()],
            ).fetchone()
        return single(statement_id, row, voided=voided)

    def query(
        self, query: StatementQuery, *, tenant: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        prefix = self.database.tenant(tenant)
        with self.database.connection() as connection:
            if query.bound is None:
                row = connection.execute(bound_sql(prefix)).fetchone()
                query = replace(query, bound=row[0] if row else 0)
            limit = page_limit(query, self.max_limit)
            sql, params = page_sql(query, limit=limit, prefix=prefix, param="%s")
            rows = connection.execute(sql, params).fetchall()
        return page(rows, query, limit)

    def consistent_through(self, *, tenant: str, bound: int | None = None) -> str:
        prefix = self.database.tenant(tenant)
        with self.database.connection() as connection:
            if bound is None:
                checked = datetime.now(UTC)
                if lock_is_free(connection, f"statements:{prefix}"):
                    return through(checked, None)
            found = connection.execute(consistency_sql(prefix, "%s"),
                                       [LAST_POSITION if bound is None else bound])
            return through(None, found.fetchone())


def _stored_state(
    connection: psycopg.Connection[Any], prefix: str, ids: list[str], refs: list[str]
) -> StoredState:
    """What the batch depends on, read in one round trip (see `StoredState`)."""
    with connection.pipeline():
        found = connection.execute(
            f"SELECT id, seq, digest, is_voiding FROM {prefix}statements WHERE id = ANY(%s)",
            [list(dict.fromkeys([*ids, *refs]))],
        )
        keys = connection.execute(
            f"SELECT k.seq, k.kind, k.value, k.broad FROM {prefix}statements t "
            f"JOIN {prefix}keys k ON k.seq = t.seq WHERE t.id = ANY(%s)",
            [refs],
        )
        referrers = connection.execute(
            f"SELECT seq, ref FROM {prefix}statements WHERE ref = ANY(%s)", [ids]
        )
        last = connection.execute(
            f"SELECT seq, stored FROM {prefix}statements ORDER BY seq DESC LIMIT 1"
        )
    target_keys: dict[int, set[Key]] = {}
    for seq, kind, value, broad in keys.fetchall():
        target_keys.setdefault(seq, set()).add((kind, value, broad))
    newest = last.fetchone()
    return StoredState(
        {i: StoredStatement(seq, digest, voiding) for i, seq, digest, voiding in found.fetchall()},
        target_keys,
        [(seq, ref) for seq, ref in referrers.fetchall()],
        last_seq=newest[0] if newest else 0,
        last_stored=newest[1] if newest else None,
    )


def _write(
    connection: psycopg.Connection[Any], prefix: str, plan: BatchPlan,
    attachments: Mapping[str, bytes],
) -> None:
    """The plan's rows, one statement per table; duplicates of stored index rows and
    attachment contents are skipped. Arrays travel in binary (`%b`): no quoting to escape."""
    rows = plan.statements
    if rows:
        connection.execute(
            f"INSERT INTO {prefix}statements (seq, id, stored, ref, is_voiding, authority, "
            "digest, body) SELECT * FROM unnest(%b::bigint[], %b::text[], %b::timestamptz[], "
            "%b::text[], %b::boolean[], %b::text[], %b::text[], %b::text[])",
            [[r.seq for r in rows], [r.id for r in rows], [r.stored for r in rows],
             [r.ref for r in rows], [r.is_voiding for r in rows], [r.authority for r in rows],
             [r.digest for r in rows], [r.body for r in rows]],
        )
    if plan.keys:
        kinds, values, broads, seqs = zip(*plan.keys, strict=True)
        connection.execute(
            f"INSERT INTO {prefix}keys (kind, value, broad, seq) SELECT * FROM "
            "unnest(%b::text[], %b::text[], %b::boolean[], %b::bigint[]) ON CONFLICT DO NOTHING",
            [list(kinds), list(values), list(broads), list(seqs)],
        )
    if attachments:
        connection.execute(
            f"INSERT INTO {prefix}attachments (sha2, content) SELECT * FROM "
            "unnest(%b::text[], %b::bytea[]) ON CONFLICT DO NOTHING",
            [[sha2.lower() for sha2 in attachments], list(attachments.values())],
        )
    if plan.void_candidates:
        # A statement is voided iff it is not voiding and a voiding statement targets it;
        # either may arrive first.
        connection.execute(
            f"UPDATE {prefix}statements t SET voided = true WHERE t.id = ANY(%s) "
            "AND NOT t.is_voiding AND NOT t.voided AND EXISTS (SELECT 1 FROM "
            f"{prefix}statements v WHERE v.ref = t.id AND v.is_voiding)",
            [plan.void_candidates],
        )
