"""Group commit: the statement writes of a tenant that arrive while its previous transaction
commits are stored together, in the next one.

Why: a commit is the expensive part of a small write. SQLite's store syncs its log before
answering, PostgreSQL flushes its WAL, and both write every page the
transaction touched, once per transaction. One writer thread per tenant takes everything that
queued during the last commit and stores it in one transaction: under concurrent load the sync
and the shared index pages are paid once for many requests, and with a single client nothing
waits (the queue holds one write, committed at once).

What stays as before: a write is acknowledged only after the commit of its group (its future
completes then); each write keeps its own outcome (a conflict or a refused voiding in one
request is that request's 400/409, the others of the group are stored); the writes of a group
are planned in arrival order, each seeing the ones before it, so ids, conflicts, `stored` times
and `seq` order are those of the same requests arriving one by one. A failure of the database
itself fails every write of the group, none of which was acknowledged.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from vigie.lrs.errors import LrsError
from vigie.lrs.statement_batch import Incoming, prepare_batch
from vigie.lrs.store import check_tenant

__all__ = ["GroupCommit", "GroupCommitStore", "Outcome", "Write"]

#: What storing one write gave: its statement ids, or the error refusing its statements.
Outcome = list[str] | LrsError


@dataclass(eq=False)
class Write:
    """One request's statements (prepared) and attachment data, and its pending answer."""

    batch: list[Incoming]
    attachments: Mapping[str, bytes]
    future: Future[list[str]] = field(default_factory=Future)


class _Queue:
    """The pending writes of one tenant and the thread committing them."""

    def __init__(self) -> None:
        self.pending: deque[Write] = deque()
        self.ready = threading.Condition()
        self.thread: threading.Thread | None = None


class GroupCommit:
    """A writer thread per tenant calling `commit(tenant, writes)` for each group.

    `commit` runs one transaction over the writes and returns one `Outcome` per write, in
    order, once it has committed; if it raises, every write of the group fails with that
    exception. A group holds whole writes, at most `max_statements` statements unless its
    first write alone is larger.
    """

    def __init__(
        self, commit: Callable[[str, Sequence[Write]], list[Outcome]], *,
        max_statements: int = 5000,
    ) -> None:
        self._commit = commit
        self._max_statements = max_statements
        self._queues: dict[str, _Queue] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, tenant: str, write: Write) -> Future[list[str]]:
        """Queues `write` for `tenant`; its future completes once it is committed (ids) or
        refused (the `LrsError`)."""
        queue = self._queue(tenant)
        with queue.ready:
            queue.pending.append(write)
            queue.ready.notify()
        return write.future

    def close(self) -> None:
        """Commits what is queued, then stops the writer threads."""
        with self._lock:
            self._closed = True
            queues = list(self._queues.values())
            self._queues.clear()
        for queue in queues:
            with queue.ready:
                queue.ready.notify()
            if queue.thread is not None:
                queue.thread.join()

    def _queue(self, tenant: str) -> _Queue:
        queue = self._queues.get(tenant)
        if queue is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the statement store is closed")
                queue = self._queues.get(tenant)
                if queue is None:
                    queue = self._queues[tenant] = _Queue()
                    queue.thread = threading.Thread(
                        target=self._run, args=(tenant, queue), daemon=True,
                        name=f"vigie-lrs-writer-{tenant}",
                    )
                    queue.thread.start()
        return queue

    def _run(self, tenant: str, queue: _Queue) -> None:
        while True:
            with queue.ready:
                while not queue.pending and not self._closed:
                    queue.ready.wait()
                if not queue.pending:
                    return
                group = self._take(queue.pending)
            self._store(tenant, group)

    def _take(self, pending: deque[Write]) -> list[Write]:
        group = [pending.popleft()]
        size = len(group[0].batch)
        while pending and size + len(pending[0].batch) <= self._max_statements:
            size += len(pending[0].batch)
            group.append(pending.popleft())
        return group

    def _store(self, tenant: str, group: list[Write]) -> None:
        # A write whose caller gave up before its group started is not stored (nobody will
        # read its answer); once started, a write can no longer be cancelled.
        live = [write for write in group if write.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            outcomes = self._commit(tenant, live)
        except BaseException as exc:  # the database failed: nothing of the group is stored
            for write in live:
                write.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for write, outcome in zip(live, outcomes, strict=True):
            if isinstance(outcome, LrsError):
                write.future.set_exception(outcome)
            else:
                write.future.set_result(outcome)


class GroupCommitStore(ABC):
    """The write entry points of a statement store whose transactions `GroupCommit` runs:
    both backends prepare a request's statements in the caller's thread and queue them for the
    tenant's writer thread, which calls the backend's `_commit`."""

    def __init__(self) -> None:
        self._writes = GroupCommit(self._commit)

    @abstractmethod
    def _commit(self, tenant: str, writes: Sequence[Write]) -> list[Outcome]:
        """Stores a group of writes in one transaction (see `GroupCommit`)."""

    def insert(self, statements: list[dict[str, Any]], *, tenant: str) -> list[str]:
        return self.submit(statements, {}, tenant=tenant).result()

    def insert_with_attachments(
        self, statements: list[dict[str, Any]], attachments: Mapping[str, bytes], *, tenant: str
    ) -> list[str]:
        """`insert`, plus attachment contents (lowercase sha2 → bytes) in the same transaction:
        stored before the ids are answered, one copy per sha2 in the tenant's own store."""
        return self.submit(statements, attachments, tenant=tenant).result()

    def submit(
        self, statements: list[dict[str, Any]], attachments: Mapping[str, bytes], *, tenant: str
    ) -> Future[list[str]]:
        """`insert_with_attachments` without waiting: the statements are prepared here, then
        queued for the tenant's writer thread."""
        check_tenant(tenant)  # a bad name fails here; the writer thread opens the tenant
        return self._writes.submit(tenant, Write(prepare_batch(statements), attachments))
