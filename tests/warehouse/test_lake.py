"""The lake's transactions: all or nothing, whatever instant the process dies."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigie.warehouse.lake import FileState, Lake


def staged_file(area: Path, name: str) -> None:
    (area / "service=x").mkdir(parents=True, exist_ok=True)
    (area / "service=x" / name).write_bytes(b"data")


def state(offset: int) -> FileState:
    return FileState("src", "hash", 10, "/var/log/a.log", offset, 3, 3, 0)


def test_warehouse_lake_commit_moves_files_and_records_catalogue(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    with lake.transaction() as tx:
        staged_file(tx.area("events"), "part-1.parquet")
        tx.files.append(state(100))
    assert (tmp_path / "lake/events/service=x/part-1.parquet").exists()
    assert lake.known_files("src") == [state(100)]
    assert not list((lake.meta / "staging").iterdir())


def test_warehouse_lake_error_inside_transaction_leaves_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    with pytest.raises(RuntimeError), lake.transaction() as tx:
        staged_file(tx.area("events"), "part-1.parquet")
        tx.files.append(state(100))
        raise RuntimeError("crash while parsing")
    assert not (tmp_path / "lake/events").exists()
    assert lake.known_files("src") == []


def test_warehouse_lake_crash_after_commit_point_is_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path / "lake")

    def die(journal: Path) -> None:
        raise KeyboardInterrupt  # the process dies right after writing the journal

    monkeypatch.setattr(lake, "_apply", die)
    with pytest.raises(KeyboardInterrupt), lake.transaction() as tx:
        staged_file(tx.area("events"), "part-1.parquet")
        tx.files.append(state(100))
    assert not (tmp_path / "lake/events").exists()
    monkeypatch.undo()
    lake.close()  # the process died: its lock is gone
    reopened = Lake(tmp_path / "lake")
    assert (tmp_path / "lake/events/service=x/part-1.parquet").exists()
    assert reopened.known_files("src") == [state(100)]
    assert not list((reopened.meta / "journal").iterdir())


def test_warehouse_lake_uncommitted_staging_is_discarded_on_open(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    orphan = lake.meta / "staging" / "0001-dead"
    staged_file(orphan / "events", "part-1.parquet")
    lake.close()
    Lake(tmp_path / "lake")
    assert not orphan.exists()
    assert not (tmp_path / "lake/events").exists()


def test_warehouse_lake_drop_removes_partition(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    with lake.transaction() as tx:
        staged_file(tx.area("events"), "part-1.parquet")
    with lake.transaction() as tx:
        tx.drop("events/service=x")
    assert not (tmp_path / "lake/events/service=x").exists()


def test_warehouse_lake_second_writer_is_refused_before_touching_staging(tmp_path: Path) -> None:
    from vigie.errors import VigieError

    first = Lake(tmp_path / "lake")
    tx = first.begin()
    staged_file(tx.area("events"), "part-1.parquet")
    with pytest.raises(VigieError, match="another vigie process is writing"):
        Lake(tmp_path / "lake")
    assert (tx.staging / "events/service=x/part-1.parquet").exists()  # not discarded
    first.commit(tx)
    first.close()
    Lake(tmp_path / "lake").close()  # free again once the first writer is done
