"""The Parquet lake on disk, and the only way data gets into it: a small redo-log transaction.

Layout (hive partitions, readable as is by DuckDB, Spark, Polars…)::

    lake/events/service=ent/month=2026-09/part-<tx>-0.parquet
    lake/quarantine/source=cas/part-<tx>-0.parquet
    lake/directory/snapshot_date=2026-09-01/part-<tx>-0.parquet
    lake/_vigie/catalogue.sqlite      what was read: file fingerprints, offsets, row counts
    lake/_vigie/staging/<tx>/…        files being written (ignored by readers: leading '_')
    lake/_vigie/journal/<tx>.json     a committed transaction not yet fully applied

A transaction writes its files under `staging/<tx>`, then atomically writes its journal entry
(the commit point: the files to move, the files to drop and the catalogue rows to set), then
applies it and deletes the entry. Opening the lake replays every journal entry and discards
staging folders without one, so a process killed at any instant leaves either all of a
transaction or nothing, and replaying is idempotent.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigie.errors import VigieError

__all__ = ["FileState", "Lake", "Transaction"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source TEXT NOT NULL,
    head_hash TEXT NOT NULL,
    head_len INTEGER NOT NULL,
    path TEXT NOT NULL,
    offset INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (source, head_hash)
);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT PRIMARY KEY,
    position TEXT NOT NULL,
    rows INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class FileState:
    """What the catalogue knows of one source file."""

    source: str
    head_hash: str
    head_len: int
    path: str
    offset: int
    lines: int
    rows: int
    quarantined: int


@dataclass
class Transaction:
    """Files staged for one atomic addition to the lake, with the catalogue rows that go along."""

    lake: Lake
    id: str
    staging: Path
    files: list[FileState] = field(default_factory=list)
    cursors: dict[str, tuple[str, int]] = field(default_factory=dict)
    drops: list[str] = field(default_factory=list)
    _parts: int = 0

    def part(self) -> str:
        """A new file name, unique in the lake: a transaction may write several per folder."""
        self._parts += 1
        return f"part-{self.id}-{self._parts}.parquet"

    def area(self, table: str) -> Path:
        """The staging folder of one table (`events`, `quarantine`, `directory`)."""
        path = self.staging / table
        path.mkdir(parents=True, exist_ok=True)
        return path

    def drop(self, relative: str) -> None:
        """Removes a folder or file of the lake (relative path) when the transaction applies."""
        self.drops.append(relative)


class Lake:
    """A lake folder opened for writing: its tables, catalogue and transactions.

    One writer at a time (an ingestion, an export): the lock is taken before anything else,
    because opening replays or discards unfinished transactions, which must never touch the
    staging files of a writer still at work. Readers (`vigie query`) need no lock.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = root / "_vigie"
        for folder in (self.meta / "staging", self.meta / "journal"):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = (self.meta / "writer.lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise VigieError(
                f"another vigie process is writing to the lake {root} (an ingestion or an "
                "export); wait for it to finish"
            ) from None
        # Any thread of the writer may commit (the first chunk of a run writes the directory
        # snapshot, see `vigie.ingest.pipeline`); commits take turns on `_commits`.
        self._db = sqlite3.connect(self.meta / "catalogue.sqlite", isolation_level=None,
                                   check_same_thread=False)
        self._commits = threading.Lock()
        self._db.executescript(_SCHEMA)
        self.recover()

    def close(self) -> None:
        self._db.close()
        self._lock.close()  # releases the lock

    def table(self, name: str) -> Path:
        return self.root / name

    # -- catalogue -------------------------------------------------------------------------
    def known_files(self, source: str) -> list[FileState]:
        rows = self._db.execute(
            "SELECT source, head_hash, head_len, path, offset, lines, rows, quarantined "
            "FROM files WHERE source = ?",
            (source,),
        ).fetchall()
        return [FileState(*row) for row in rows]

    def cursor(self, source: str) -> tuple[str, int] | None:
        row = self._db.execute(
            "SELECT position, rows FROM cursors WHERE source = ?", (source,)
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Stages files; commits them atomically when the block ends without error."""
        tx = self.begin()
        try:
            yield tx
        except BaseException:
            self.abort(tx)
            raise
        self.commit(tx)

    def begin(self) -> Transaction:
        """A new transaction with its own staging folder (several may be staged at once)."""
        tx_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        staging = self.meta / "staging" / tx_id
        staging.mkdir(parents=True)
        return Transaction(self, tx_id, staging)

    def abort(self, tx: Transaction) -> None:
        """Forgets a staged transaction."""
        shutil.rmtree(tx.staging, ignore_errors=True)

    def commit(self, tx: Transaction) -> None:
        """Makes a staged transaction part of the lake, atomically (see the module's doc)."""
        moves = sorted(
            str(p.relative_to(tx.staging)) for p in tx.staging.rglob("*") if p.is_file()
        )
        entry: dict[str, Any] = {
            "id": tx.id,
            "moves": moves,
            "drops": tx.drops,
            "files": [vars(f) for f in tx.files],
            "cursors": {k: list(v) for k, v in tx.cursors.items()},
        }
        journal = self.meta / "journal" / f"{tx.id}.json"
        temporary = journal.with_suffix(".tmp")
        with self._commits:
            with temporary.open("w", encoding="utf-8") as out:
                json.dump(entry, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, journal)  # the commit point
            self._apply(journal)

    def _apply(self, journal: Path) -> None:
        entry = json.loads(journal.read_text(encoding="utf-8"))
        staging = self.meta / "staging" / entry["id"]
        for relative in entry["drops"]:
            target = self.root / relative
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        for relative in entry["moves"]:
            source, target = staging / relative, self.root / relative
            if source.exists():  # else already moved by an interrupted apply
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            for f in entry["files"]:
                self._db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        f["source"], f["head_hash"], f["head_len"], f["path"], f["offset"],
                        f["lines"], f["rows"], f["quarantined"], now,
                    ),
                )
            for source, (position, rows) in entry["cursors"].items():
                self._db.execute(
                    "INSERT OR REPLACE INTO cursors VALUES (?, ?, ?, ?)",
                    (source, position, rows, now),
                )
        shutil.rmtree(staging, ignore_errors=True)
        journal.unlink()

    def recover(self) -> None:
        """Finishes committed transactions and forgets uncommitted ones (after a crash)."""
        journals = sorted((self.meta / "journal").glob("*.json"))
        for journal in journals:
            self._apply(journal)
        for leftover in (self.meta / "journal").glob("*.tmp"):
            leftover.unlink()
        for staging in (self.meta / "staging").iterdir():
            shutil.rmtree(staging, ignore_errors=True)
