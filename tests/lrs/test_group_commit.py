"""Group commit (`vigie.lrs.group_commit`): what queues during a commit goes in the next one,
each write keeps its own outcome, and a failed transaction acknowledges nothing."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from vigie.lrs.errors import Conflict, LrsError
from vigie.lrs.group_commit import GroupCommit, Outcome, Write
from vigie.lrs.loadgen import statement
from vigie.lrs.statement_batch import prepare_batch


def write(n: int) -> Write:
    """A write of `n` statements (their content does not matter to the grouping)."""
    return Write(prepare_batch([statement(i) for i in range(n)]), {})


class Recorder:
    """A `commit` that records its groups; the first one waits until `release` is set, so that
    later writes queue behind it."""

    def __init__(self, refuse: set[int] | None = None, fail: bool = False) -> None:
        self.groups: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.refuse = refuse or set()
        self.fail = fail

    def __call__(self, tenant: str, writes: Sequence[Write]) -> list[Outcome]:
        self.started.set()
        self.release.wait(10)
        self.groups.append([len(w.batch) for w in writes])
        if self.fail:
            raise RuntimeError("disk full")
        return [Conflict("refused") if len(w.batch) in self.refuse else [f"id{len(w.batch)}"]
                for w in writes]


def test_writes_queued_during_a_commit_are_stored_together_next() -> None:
    commit = Recorder()
    group = GroupCommit(commit)
    first = group.submit("t", write(1))
    assert commit.started.wait(10)
    queued = [group.submit("t", write(n)) for n in (2, 3, 4)]
    commit.release.set()
    assert first.result(10) == ["id1"]
    assert [f.result(10) for f in queued] == [["id2"], ["id3"], ["id4"]]
    group.close()
    assert commit.groups == [[1], [2, 3, 4]]


def test_each_write_keeps_its_own_outcome() -> None:
    commit = Recorder(refuse={3})
    group = GroupCommit(commit)
    first = group.submit("t", write(1))
    assert commit.started.wait(10)
    stored, refused = group.submit("t", write(2)), group.submit("t", write(3))
    commit.release.set()
    first.result(10)
    assert stored.result(10) == ["id2"]
    with pytest.raises(LrsError, match="refused"):
        refused.result(10)
    group.close()


def test_a_failed_transaction_fails_every_write_of_its_group() -> None:
    commit = Recorder(fail=True)
    commit.release.set()
    group = GroupCommit(commit)
    futures = [group.submit("t", write(n)) for n in (1, 2)]
    for future in futures:
        with pytest.raises(RuntimeError, match="disk full"):
            future.result(10)
    group.close()


def test_a_group_holds_whole_writes_up_to_the_statement_limit() -> None:
    commit = Recorder()
    group = GroupCommit(commit, max_statements=5)
    group.submit("t", write(1))
    assert commit.started.wait(10)
    futures = [group.submit("t", write(n)) for n in (3, 2, 4, 9)]
    commit.release.set()
    for future in futures:
        future.result(10)
    group.close()
    assert commit.groups == [[1], [3, 2], [4], [9]]  # a write larger than the limit goes alone


def test_tenants_commit_apart_and_close_stores_what_is_queued() -> None:
    commit = Recorder()
    commit.release.set()
    group = GroupCommit(commit)
    futures = [group.submit(tenant, write(n)) for tenant, n in (("a", 1), ("b", 2), ("a", 3))]
    group.close()
    assert all(future.done() for future in futures)
    assert sorted(n for g in commit.groups for n in g) == [1, 2, 3]
    with pytest.raises(RuntimeError, match="closed"):
        group.submit("c", write(1))
