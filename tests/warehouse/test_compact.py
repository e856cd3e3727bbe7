"""Compaction folds the ingested files into the summaries: each summary equals its definition
over the tables after every run, is read only once every file is folded, loses the months the
retention drops, and a compaction killed at any instant then rerun gives a clean one's rows."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.ingest.test_pipeline import CAS, ENT, SECRET, setup
from vigie.config import load_config
from vigie.demo import generate
from vigie.indicators import Filters, builtin_indicators, run
from vigie.ingest.pipeline import ingest
from vigie.warehouse.compact import compact, unfolded
from vigie.warehouse.lake import Lake
from vigie.warehouse.query import connect
from vigie.warehouse.summaries import SUMMARIES

NAMES = {s.name for s in SUMMARIES}


def differences(lake: Path) -> dict[str, int]:
    """Per summary, rows that differ between its files and its definition over the tables."""
    con = connect(lake)
    assert {r[0] for r in con.sql("SELECT name FROM lake_summaries").fetchall()} == NAMES
    found = {}
    for summary in SUMMARIES:
        columns = ", ".join(summary.columns)
        stored = f"SELECT {columns} FROM {summary.name}"
        defined = f"SELECT {columns} FROM ({summary.select(summary.source)})"
        found[summary.name] = con.sql(
            f"SELECT count(*) FROM (({stored} EXCEPT ALL {defined}) "
            f"UNION ALL ({defined} EXCEPT ALL {stored}))").fetchall()[0][0]
    return found


def test_warehouse_summaries_equal_their_definition_after_each_run(tmp_path: Path) -> None:
    config = setup(tmp_path)
    lake = tmp_path / "lake"
    lines = CAS.read_bytes().splitlines(keepends=True)
    (tmp_path / "logs/cas.log").write_bytes(b"".join(lines[:4000]))
    ingest(load_config(config), secret=SECRET)
    assert differences(lake) == dict.fromkeys(NAMES, 0)
    (tmp_path / "logs/cas.log").write_bytes(b"".join(lines))  # grows: merged into the summaries
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    report = ingest(load_config(config), secret=SECRET)
    assert report.compaction is not None and report.compaction.folded > 0
    assert differences(lake) == dict.fromkeys(NAMES, 0)
    assert not unfolded(lake, "daily") and not unfolded(lake, "events")
    # One file per service and summary, whatever the number of runs.
    for name in NAMES:
        assert all(len(list(p.glob("*.parquet"))) == 1 for p in (lake / name).iterdir())


def _cas_lines(days: list[str], users: range) -> bytes:
    """serviceStats lines (the real sample's first one as the pattern), one per user and day."""
    pattern = CAS.read_bytes().splitlines()[0].decode()
    lines = []
    for day in days:
        stamp = datetime.strptime(f"{day} 10:00:00", "%Y-%m-%d %H:%M:%S")
        for n in users:
            line = re.sub(r"^\[[^]]+\]", stamp.strftime("[%a %b %d %H:%M:%S CEST %Y]"), pattern)
            lines.append(re.sub(r"\[ID:[^]]+\]", f"[ID:etud{n}]", line))
    return ("\n".join(lines) + "\n").encode()


def test_warehouse_week_across_two_months_is_recomputed_whole(tmp_path: Path) -> None:
    """The week of Monday 29 September 2025 ends in October: the October rows of a later run
    change that September week's people, which compaction recomputes (a week belongs to the
    month of its Monday, so the month before a month with new rows is recomputed too)."""
    config = setup(tmp_path)
    lake = tmp_path / "lake"
    log = tmp_path / "logs/cas.log"
    log.write_bytes(_cas_lines(["2025-09-29", "2025-09-30"], range(0, 4)))
    ingest(load_config(config), secret=SECRET)
    log.write_bytes(log.read_bytes() + _cas_lines(["2025-10-01", "2025-10-06"], range(2, 9)))
    ingest(load_config(config), secret=SECRET)
    assert differences(lake)["service_weeks"] == 0
    weeks = connect(lake).sql("SELECT week_start, sum(users) FROM service_weeks "
                              "GROUP BY week_start ORDER BY week_start").fetchall()
    assert weeks == [(date(2025, 9, 29), 9), (date(2025, 10, 6), 7)]
    # A lake compacted by a vigie without this summary gets it at its next compaction.
    shutil.rmtree(lake / "service_weeks")
    report = compact(Lake(lake))
    assert report.services and report.folded == 0
    assert differences(lake)["service_weeks"] == 0
    assert compact(Lake(lake)).services == []  # nothing left to do


def test_warehouse_summaries_are_read_only_once_every_file_is_folded(tmp_path: Path) -> None:
    config = setup(tmp_path)
    lake = tmp_path / "lake"
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    ingest(load_config(config), secret=SECRET)
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    ingest(load_config(config), secret=SECRET, compact_after=False)
    assert unfolded(lake, "daily") and unfolded(lake, "events")
    con = connect(lake)
    assert con.sql("SELECT count(*) FROM lake_summaries").fetchall() == [(0,)]
    catalogue = builtin_indicators()
    before = {i: run(catalogue[i], con, Filters(), k=1).to_pylist() for i in catalogue}
    assert any(row["service"] == "ent" for row in before["daily_users"])  # the new rows count
    subprocess.run([sys.executable, "-m", "vigie.cli", "compact", "-c", str(config)],
                   check=True, capture_output=True)
    assert differences(lake) == dict.fromkeys(NAMES, 0)
    after = connect(lake)
    assert {i: run(catalogue[i], after, Filters(), k=1).to_pylist() for i in catalogue} == before


def test_warehouse_compaction_drops_the_expired_months_with_their_summaries(
        tmp_path: Path) -> None:
    config = setup(tmp_path)
    lake = tmp_path / "lake"
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    ingest(load_config(config), secret=SECRET)  # September 2015, kept: no retention
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[vigie]\n", "[vigie]\nretention_months = 12\n"), encoding="utf-8")
    report = ingest(load_config(config), secret=SECRET)  # new files of 2015: dropped too
    assert report.compaction is not None and report.compaction.expired > 0
    assert not list((lake / "events").rglob("*.parquet"))
    assert not list((lake / "daily").rglob("*.parquet"))
    for name in NAMES:  # each service's summary file is left empty
        assert sum(pq.ParquetFile(p).metadata.num_rows
                   for p in (lake / name).rglob("*.parquet")) == 0, name


def fingerprint(lake: Path) -> list[tuple[object, ...]]:
    """Every table's row count and an order-independent checksum of its rows."""
    con = connect(lake)
    return [con.sql(f"SELECT '{table}', count(*), sum(hash(COLUMNS(*))::HUGEINT) "
                    f"FROM {table}").fetchall()[0]
            for table in ("events", "daily", *sorted(NAMES))]


@pytest.mark.slow
def test_warehouse_compaction_kill_minus_nine_then_rerun_equals_clean_run(
        tmp_path: Path) -> None:
    source = tmp_path / "demo"
    config = generate(source, people=1500, days=30, end=date(2026, 11, 20))
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[vigie]\n", "[vigie]\nchunk_mb = 2\n"), encoding="utf-8")  # many files to fold
    (source / "secret").write_bytes(SECRET)
    subprocess.run([sys.executable, "-m", "vigie.cli", "ingest", "--no-compact", "-c",
                    str(config)], check=True, capture_output=True)
    killed = tmp_path / "killed"
    shutil.copytree(source / "lake", killed / "lake")
    (killed / "vigie.toml").write_text(config.read_text(encoding="utf-8"), encoding="utf-8")
    compact = [sys.executable, "-m", "vigie.cli", "compact", "-c"]

    started = time.perf_counter()
    subprocess.run([*compact, str(config)], check=True, capture_output=True)
    duration = time.perf_counter() - started
    expected = fingerprint(source / "lake")

    rng = random.Random(11)
    halfway = 0  # kills that left some services compacted and others not
    for attempt in range(8):
        process = subprocess.Popen([*compact, str(killed / "vigie.toml")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.0) * duration * (attempt + 1) / 8)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            halfway += bool(unfolded(killed / "lake", "daily")) and any(
                (killed / "lake/last_seen").glob("service=*"))
        process.wait()
    assert halfway >= 1, "no kill fell during the compaction: make the lake larger"
    subprocess.run([*compact, str(killed / "vigie.toml")], check=True, capture_output=True)
    assert fingerprint(killed / "lake") == expected
    assert not unfolded(killed / "lake", "daily") and not unfolded(killed / "lake", "events")
