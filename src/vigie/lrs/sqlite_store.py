"""The embedded statement store: one SQLite database per tenant, under one folder.

Why SQLite: a university LRS receives tens of statements a second at peak, which one SQLite
writer in WAL mode absorbs with room to spare, with no server to run. Why one file per
tenant: isolation holds by construction (a query of tenant A opens A's file only), and a
tenant is backed up, moved or deleted as one file.

Durability: a statement is on disk before its id is answered. The writer commits with
`synchronous=NORMAL` (the log is written, not synced), releases the tenant's writer lock, then
syncs the log itself (`_TenantDatabase.make_durable`) before its writes are acknowledged. Why
not `synchronous=FULL`, which syncs inside `COMMIT`: the sync is the one wait of a commit that
needs no lock, and outside it the next writer (another process's) fills the log meanwhile.
Syncing a file flushes everything written to it so far, and SQLite replays a log up to its
last complete transaction, so an acknowledged statement survives a crash together with every
transaction before it; a checkpoint syncs the log before copying it, as under `FULL`. What
differs: a reader may see a statement a millisecond before its writer is told it is durable
(and a crash in that millisecond loses it, unacknowledged). Writes of one tenant go through
one connection, in its writer thread, which stores together the requests that queued during
the previous commit (`group_commit`); reads use one connection per thread, which WAL lets run
while a write is under way.

Several server processes may share the folder (`vigie lrs serve --workers N`). Their writers
of one tenant take turns on an exclusive `flock` of `<tenant>.lock` held across the whole
transaction, so the reads a batch depends on and its `seq` and `stored` values are taken in
commit order, as in one process. Why a lock of our own rather than SQLite's busy timeout: a
busy SQLite writer retries after sleeps of up to 100 ms, where a blocked `flock` returns as
soon as the lock is free.

Checkpoints (copying the WAL's pages into the database file, and syncing it) run in the writer
thread after the lock is released, every `_CHECKPOINT_STATEMENTS` statements or
`_CHECKPOINT_COMMITS` commits of the process, rather than inside a commit once the WAL holds
1,000 pages (SQLite's default): a checkpoint of a large store is a burst of random writes and a
sync, which then delays no other process's writes, and a page written by several commits in
between is copied once. A WAL that other processes kept growing meanwhile is checkpointed under
the lock, where it can be copied whole and restarted.

The rules of a write (immutability, voiding, `stored` times, the `keys` filter index and the
StatementRef rule) are `vigie.lrs.statement_batch`'s, and the SQL of a query is
`vigie.lrs.statement_query`'s, both shared with the PostgreSQL store; this module only reads
and writes rows.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigie.lrs.errors import LrsError
from vigie.lrs.group_commit import GroupCommitStore, Outcome, Write
from vigie.lrs.jsontext import json_text
from vigie.lrs.statement_batch import (
    BatchPlan,
    Incoming,
    Key,
    StoredState,
    StoredStatement,
    batch_refs,
    own_keys,
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
from vigie.lrs.store import StatementQuery, check_tenant

__all__ = ["SQLiteStatementStore"]

log = logging.getLogger(__name__)

#: The index rows: see `_Terms` and `_TenantDatabase.move_pending`.
_INDEX_TABLES = (
    "CREATE TABLE IF NOT EXISTS keys (term INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "PRIMARY KEY (term, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS pending_keys (seq INTEGER NOT NULL, term INTEGER NOT NULL, "
    "PRIMARY KEY (seq, term)) WITHOUT ROWID",
)

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
    body TEXT NOT NULL,
    inherited TEXT
);
CREATE INDEX IF NOT EXISTS statements_ref ON statements(ref) WHERE ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS statements_stored ON statements(stored);
CREATE INDEX IF NOT EXISTS statements_authority ON statements(authority, seq);
CREATE TABLE IF NOT EXISTS terms (
    term INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    broad INTEGER NOT NULL,
    UNIQUE (kind, value, broad)
);
{index_tables}
CREATE TABLE IF NOT EXISTS attachments (
    sha2 TEXT PRIMARY KEY,
    content BLOB NOT NULL
) WITHOUT ROWID;
""".format(index_tables="".join(f"{table};\n" for table in _INDEX_TABLES))


#: A checkpoint is due after this many statements or commits of the process (a batch of 100
#: statements writes about 400 pages to the WAL, a single statement about 15).
_CHECKPOINT_STATEMENTS = 2_000
_CHECKPOINT_COMMITS = 100
#: A WAL of more pages than this is checkpointed under the writer lock (about 200 MiB).
_WAL_LIMIT = 50_000
#: Index rows waiting in `pending_keys` are moved into `keys` past this many (about 5,000
#: statements of a Moodle course: small enough that a query reads them all in a millisecond
#: or two, large enough that each page of `keys` they land on takes tens of rows at once).
_PENDING_ROWS = 30_000


def _rows_in(db: sqlite3.Connection, sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
    """Rows of `sql` whose `IN ({})` takes `values`, 500 at a time (SQLite's parameter limit)."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        rows += db.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
    return rows


def _inherited_text(rows: Iterable[Key]) -> str:
    return json_text(sorted([kind, value, broad] for kind, value, broad in rows)).decode()


def _inherited_rows(inherited: str | None) -> set[Key]:
    """The rows of `statements.inherited` (none when NULL)."""
    if inherited is None:
        return set()
    return {(kind, value, bool(broad)) for kind, value, broad in json.loads(inherited)}


def _keys_of(body: str, inherited: str | None) -> set[Key]:
    """All the index rows of a stored statement: its own, read from its body, and those it
    inherited as a StatementRef (`statements.inherited`)."""
    return set(own_keys(json.loads(body))) | _inherited_rows(inherited)


def _inherited_update(seq: int, rows: set[Key], own: frozenset[Key]) -> list[tuple[str, int]]:
    """The (inherited, seq) update recording `rows` but for the statement's `own`, if any."""
    extra = rows - own
    return [(_inherited_text(extra), seq)] if extra else []


def _record_inherited(db: sqlite3.Connection) -> None:
    """Upgrades a store written before `statements.inherited`: the rows its StatementRefs
    inherited are read from the `keys_seq` index it had, which is then dropped (once; about
    a minute per 5 million statements, which the log says when it starts)."""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    log.warning("upgrading %s: recording inherited index rows and dropping keys_seq", path)
    with _transaction(db):
        db.execute("ALTER TABLE statements ADD COLUMN inherited TEXT")
        referrers = db.execute("SELECT seq, body FROM statements WHERE ref IS NOT NULL")
        for seq, body in referrers.fetchall():
            rows = {(kind, value, bool(broad)) for kind, value, broad in db.execute(
                "SELECT kind, value, broad FROM keys WHERE seq = ?1 "
                "UNION SELECT kind, value, broad FROM pending_keys WHERE seq = ?1", (seq,))}
            db.executemany("UPDATE statements SET inherited = ? WHERE seq = ?",
                           _inherited_update(seq, rows, own_keys(json.loads(body))))
        db.execute("DROP INDEX IF EXISTS keys_seq")


def _record_terms(db: sqlite3.Connection) -> None:
    """Upgrades a store whose index rows held their kind, value and broadness: each distinct
    one becomes a row of `terms`, and `keys` and `pending_keys` are rewritten with its number
    (once; the log says when it starts: minutes at tens of millions of index rows)."""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    log.warning("upgrading %s: numbering the index terms of keys and pending_keys", path)
    with _transaction(db):
        for table in ("keys", "pending_keys"):
            db.execute(f"ALTER TABLE {table} RENAME TO former_{table}")
            db.execute("INSERT OR IGNORE INTO terms (kind, value, broad) "
                       f"SELECT kind, value, broad FROM former_{table} ORDER BY 1, 2, 3")
        for table in _INDEX_TABLES:
            db.execute(table)
        for table, order in (("keys", "t.term, f.seq"), ("pending_keys", "f.seq, t.term")):
            db.execute(f"INSERT INTO {table} (term, seq) SELECT t.term, f.seq "
                       f"FROM former_{table} f JOIN terms t USING (kind, value, broad) "
                       f"ORDER BY {order}")
            db.execute(f"DROP TABLE former_{table}")


class _Terms:
    """The numbers of the index terms (kind, value, broadness) the writer has met, so that a
    batch's index rows are two integers each, numbered without a query once a term is known.

    Why numbers: every statement writes about five index rows, into `pending_keys` then into
    `keys`; as text they were some 80 bytes each, most of the bytes a batch wrote, moved and
    synced. A term, once numbered, keeps its number for good (terms are never deleted), so the
    numbers of committed terms can be remembered across transactions and processes; those
    numbered by a transaction that fails are forgotten (`discard`).
    """

    #: Terms remembered at most (then forgotten at once and met again): tens of megabytes.
    LIMIT = 200_000

    def __init__(self, db: sqlite3.Connection) -> None:
        """Remembers the store's newest terms at once (a university's are thousands of
        agents, activities and verbs, read in milliseconds), rather than through two queries
        each at the first writes after the server starts."""
        newest = db.execute("SELECT term, kind, value, broad FROM terms ORDER BY term DESC "
                            "LIMIT ?", (self.LIMIT,))
        self.known: dict[Key, int] = {
            (kind, value, bool(broad)): term for term, kind, value, broad in newest}
        self.fresh: dict[Key, int] = {}

    def rows(self, db: sqlite3.Connection, keys: Sequence[tuple[str, str, bool, int]]
             ) -> list[tuple[int, int]]:
        """(seq, term) rows of index rows (kind, value, broad, seq), numbering new terms."""
        known, fresh = self.known, self.fresh
        rows: list[tuple[int, int]] = []
        for kind, value, broad, seq in keys:
            term = (kind, value, broad)
            number = known.get(term) or fresh.get(term)
            if number is None:  # a term numbered once, by whichever process meets it first
                db.execute("INSERT OR IGNORE INTO terms (kind, value, broad) VALUES (?, ?, ?)",
                           term)
                number = fresh[term] = db.execute(
                    "SELECT term FROM terms WHERE kind = ? AND value = ? AND broad = ?",
                    term).fetchone()[0]
            rows.append((seq, number))
        return rows

    def keep(self) -> None:
        """The transaction that numbered the fresh terms committed."""
        if len(self.known) + len(self.fresh) > self.LIMIT:
            self.known.clear()
        self.known.update(self.fresh)
        self.fresh.clear()

    def discard(self) -> None:
        """The transaction that numbered the fresh terms rolled back."""
        self.fresh.clear()


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction of `db` (taken at once: `BEGIN IMMEDIATE`), rolled back on error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _inherited_updates(
    db: sqlite3.Connection, plan: BatchPlan, batch: Sequence[Incoming]
) -> list[tuple[str, int]]:
    """(inherited rows, seq) of the statements the plan gives rows they do not have of
    themselves: new StatementRefs copying their target's, and stored ones receiving those of
    a target that arrived now.

    Why a column rather than an index of `keys` by `seq`: the rows of a StatementRef's target
    are needed only when a StatementRef arrives, and its own rows can be read from its body;
    an index of `keys` by `seq` (a WITHOUT ROWID table: every column again) doubled the index
    that every statement writes.
    """
    received: dict[int, set[Key]] = {}
    for kind, value, broad, seq in plan.keys:
        received.setdefault(seq, set()).add((kind, value, broad))
    own = {item.id: item.keys for item in batch}
    updates = [
        update for row in plan.statements if row.ref is not None
        for update in _inherited_update(row.seq, received[row.seq], own[row.id])
    ]
    new = {row.seq for row in plan.statements}
    stored = [seq for seq in received if seq not in new]
    for seq, body, inherited in _rows_in(
        db, "SELECT seq, body, inherited FROM statements WHERE seq IN ({})", stored
    ):
        updates += _inherited_update(seq, received[seq] | _inherited_rows(inherited),
                                     own_keys(json.loads(body)))
    return updates


class _TenantDatabase:
    """One tenant's database file: the writer's connection, per-thread readers, and the lock
    file the writers of every process take turns on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log_path = path.with_name(path.name + "-wal")
        self.log_inode = -1
        self.lock = threading.Lock()
        self.lock_file = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        self.probe_file = os.open(path.with_suffix(".lock"), os.O_RDONLY)
        with self.exclusive():  # two processes creating the tables at once
            self.writer = self._connect()
            self.writer.executescript(_SCHEMA)
            columns = {row[1] for row in self.writer.execute("PRAGMA table_info(statements)")}
            if "inherited" not in columns:
                _record_inherited(self.writer)
            if "term" not in {row[1] for row in self.writer.execute("PRAGMA table_info(keys)")}:
                _record_terms(self.writer)
        self.terms = _Terms(self.writer)
        self.writer.execute("PRAGMA wal_autocheckpoint=0")  # see `wrote`
        self.uncheckpointed = (0, 0)  # statements, commits
        self.pending = self.writer.execute("SELECT count(*) FROM pending_keys").fetchone()[0]
        self.local = threading.local()
        self.readers: list[sqlite3.Connection] = []

    def wrote(self, statements: int, index_rows: int) -> None:
        """Counts a commit of the writer (called after the writer lock is released) and moves
        the pending index rows or runs the checkpoint when one is due."""
        self.pending += index_rows
        if self.pending >= _PENDING_ROWS:
            self.move_pending()
        written, commits = self.uncheckpointed
        written, commits = written + statements, commits + 1
        if written < _CHECKPOINT_STATEMENTS and commits < _CHECKPOINT_COMMITS:
            self.uncheckpointed = (written, commits)
            return
        self.uncheckpointed = (0, 0)
        _, pages, _ = self.writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if pages > _WAL_LIMIT:
            with self.exclusive():
                self.writer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def move_pending(self) -> None:
        """Moves the rows of `pending_keys` into `keys`, in their order, in one transaction.

        Why two tables: at millions of statements `keys` is a B-tree of hundreds of thousands
        of pages, and the rows of a batch of 100 statements (an actor, a verb, activities
        each) land on as many different pages, each read, then written to the WAL at every
        commit. A batch's rows are appended to `pending_keys` instead (ordered by `seq`: its
        last pages), and moved by thousands at a time, sorted, so that the rows of one actor
        or activity share their pages. Queries read both tables (`statement_query`), and a
        move is one transaction: a reader sees a row in one table or the other, never both
        or neither.
        """
        with self.exclusive(), _transaction(self.writer) as db:
            db.execute("INSERT OR IGNORE INTO keys (term, seq) "
                       "SELECT term, seq FROM pending_keys ORDER BY term, seq")
            db.execute("DELETE FROM pending_keys")
        self.pending = 0

    @contextmanager
    def numbering(self) -> Iterator[None]:
        """A write transaction's use of `terms`: the terms it numbered are kept if it
        commits, forgotten if it fails."""
        try:
            yield
        except BaseException:
            self.terms.discard()
            raise
        self.terms.keep()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """The tenant's writer lock, across processes (blocks until it is free)."""
        fcntl.flock(self.lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.lock_file, fcntl.LOCK_UN)

    def writers_idle(self) -> bool:
        """Whether no writer, of any process, holds the lock now (a shared lock taken and
        released at once, on a descriptor of its own: `flock` locks belong to descriptors)."""
        try:
            fcntl.flock(self.probe_file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(self.probe_file, fcntl.LOCK_UN)
        return True

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # synced by `make_durable`
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    def make_durable(self) -> None:
        """Syncs the log, so that every transaction committed in it so far is on disk (see
        the module's docstring). A log that is new since the last call also gets its folder
        synced, so that its name is on disk too (a commit that does not sync leaves that to
        SQLite's next sync, at a checkpoint)."""
        log_file = os.open(self.log_path, os.O_RDONLY)
        try:
            inode = os.fstat(log_file).st_ino
            if inode != self.log_inode:
                folder = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
                self.log_inode = inode
            os.fdatasync(log_file)
        finally:
            os.close(log_file)

    def reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self.local, "connection", None)
        if connection is None:
            connection = self._connect()
            self.local.connection = connection
            with self.lock:
                self.readers.append(connection)
        return connection

    def close(self) -> None:
        with self.lock:
            for connection in [self.writer, *self.readers]:
                connection.close()
            self.readers.clear()
            os.close(self.lock_file)
            os.close(self.probe_file)


class SQLiteStatementStore(GroupCommitStore):
    """`StatementStore` (and `AttachmentStore`) over `root/<tenant>.sqlite` files."""

    def __init__(self, root: Path, *, max_limit: int = MAX_LIMIT) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_limit = max_limit
        self._databases: dict[str, _TenantDatabase] = {}
        self._lock = threading.Lock()
        super().__init__()

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
        self._writes.close()
        with self._lock:
            for database in self._databases.values():
                database.close()
            self._databases.clear()

    # -- writing ---------------------------------------------------------------------------

    def _commit(self, tenant: str, writes: Sequence[Write]) -> list[Outcome]:
        """Stores a group of writes in one transaction (see `group_commit`)."""
        database = self._database(tenant)
        outcomes: list[Outcome] = []
        index_rows = 0
        with database.exclusive(), database.numbering(), _transaction(database.writer) as db:
            now = datetime.now(UTC)  # once the lock is held: see `consistency_sql`
            for write in writes:
                ids = [item.id for item in write.batch]
                try:
                    plan = plan_batch(write.batch, self._stored_state(
                        db, ids, batch_refs(write.batch)), now)
                except LrsError as exc:
                    outcomes.append(exc)
                    continue
                self._write(db, plan, write.batch, database.terms)
                index_rows += len(plan.keys)
                db.executemany(
                    "INSERT OR IGNORE INTO attachments (sha2, content) VALUES (?, ?)",
                    [(sha2.lower(), content) for sha2, content in write.attachments.items()],
                )
                outcomes.append(ids)
        database.make_durable()
        database.wrote(sum(len(write.batch) for write in writes), index_rows)
        return outcomes

    def attachment_data(self, hashes: Iterable[str], *, tenant: str) -> dict[str, bytes]:
        """The stored contents among `hashes` (lowercase sha2); absent ones are left out."""
        db = self._database(tenant).reader()
        wanted = list(dict.fromkeys(h.lower() for h in hashes))
        rows = _rows_in(db, "SELECT sha2, content FROM attachments WHERE sha2 IN ({})", wanted)
        return {sha2: bytes(content) for sha2, content in rows}

    @staticmethod
    def _stored_state(db: sqlite3.Connection, ids: list[str], refs: list[str]) -> StoredState:
        found = {
            statement_id: StoredStatement(seq, digest, bool(is_voiding))
            for statement_id, seq, digest, is_voiding in _rows_in(
                db, "SELECT id, seq, digest, is_voiding FROM statements WHERE id IN ({})",
                list(dict.fromkeys([*ids, *refs])),
            )
        }
        targets = [found[ref].seq for ref in refs if ref in found]
        target_keys = {
            seq: _keys_of(body, inherited) for seq, body, inherited in _rows_in(
                db, "SELECT seq, body, inherited FROM statements WHERE seq IN ({})", targets)
        }
        referrers = _rows_in(db, "SELECT seq, ref FROM statements WHERE ref IN ({})", ids)
        last = db.execute("SELECT seq, stored FROM statements ORDER BY seq DESC LIMIT 1").fetchone()
        return StoredState(
            found, target_keys, [(seq, ref) for seq, ref in referrers],
            last_seq=last[0] if last else 0,
            last_stored=datetime.fromisoformat(last[1]) if last else None,
        )

    @staticmethod
    def _write(
        db: sqlite3.Connection, plan: BatchPlan, batch: Sequence[Incoming], terms: _Terms
    ) -> None:
        db.executemany(
            "INSERT INTO statements (seq, id, stored, ref, is_voiding, authority, digest, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.seq, r.id, r.stored, r.ref, int(r.is_voiding), r.authority, r.digest, r.body)
             for r in plan.statements],
        )
        db.executemany(  # moved into `keys` later (`_TenantDatabase.move_pending`)
            "INSERT OR IGNORE INTO pending_keys (seq, term) VALUES (?, ?)",
            terms.rows(db, plan.keys),
        )
        db.executemany("UPDATE statements SET inherited = ? WHERE seq = ?",
                       _inherited_updates(db, plan, batch))
        # A statement is voided iff it is not voiding and a voiding statement targets it;
        # either may arrive first.
        db.executemany(
            "UPDATE statements SET voided = 1 WHERE id = ? AND is_voiding = 0 AND voided = 0 "
            "AND EXISTS (SELECT 1 FROM statements v WHERE v.ref = statements.id "
            "AND v.is_voiding = 1)",
            [(candidate,) for candidate in plan.void_candidates],
        )

    # -- reading ---------------------------------------------------------------------------

    def get(self, statement_id: str, *, tenant: str, voided: bool = False) -> dict[str, Any]:
        db = self._database(tenant).reader()
        row = db.execute(
            "SELECT body, voided FROM statements WHERE id = ?", (statement_id.lower(),)
        ).fetchone()
        return single(statement_id, row, voided=voided)

    def query(
        self, query: StatementQuery, *, tenant: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        db = self._database(tenant).reader()
        if query.bound is None:
            query = replace(query, bound=db.execute(bound_sql()).fetchone()[0])
        limit = page_limit(query, self.max_limit)
        sql, params = page_sql(query, limit=limit, pending="pending_keys", terms="terms")
        return page(db.execute(sql, params).fetchall(), query, limit)

    def consistent_through(self, *, tenant: str, bound: int | None = None) -> str:
        database = self._database(tenant)
        if bound is None:
            checked = datetime.now(UTC)
            if database.writers_idle():
                return through(checked, None)
        found = database.reader().execute(
            consistency_sql(), (LAST_POSITION if bound is None else bound,))
        return through(None, found.fetchone())
