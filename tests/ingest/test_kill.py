"""A run killed with SIGKILL at any instant, then rerun, gives exactly the rows of a clean run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REAL, write_config
from tests.warehouse.test_compact import differences
from vigie.warehouse.query import connect

CONFIG = """

[network]
wired = ["83.149.0.0/16"]

[[sources]]
name = "web"
format = "apache_combined"
paths = ["logs/*.log*"]
service = "web"
"""


def make_university(folder: Path) -> Path:
    (folder / "logs").mkdir(parents=True)
    data = (REAL / "apache_combined_elastic_examples.log").read_bytes()
    (folder / "logs/access.log").write_bytes(data * 40)
    # A different file (same lines in another order): files are known by their first bytes.
    reversed_lines = b"".join(reversed(data.splitlines(keepends=True)))
    (folder / "logs/other.log").write_bytes(reversed_lines * 10)
    return write_config(folder, CONFIG, vigie="chunk_mb = 1\n")


def ingest_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "vigie.cli", "ingest", "-c", str(config)]


def fingerprint_of(lake: Path) -> tuple[int, int]:
    """Row count and an order-independent checksum of every event (doubling changes both)."""
    row = connect(lake).sql(
        "SELECT count(*), sum(hash(ts, service, user_pseudo, zone, device, status, action)"
        "::HUGEINT) FROM events"
    ).fetchall()[0]
    return int(row[0]), int(row[1])


@pytest.mark.slow
def test_ingest_kill_minus_nine_then_rerun_equals_clean_run(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "120"}
    clean = make_university(tmp_path / "clean")
    subprocess.run(ingest_command(clean), check=True, env=env, capture_output=True)
    expected = fingerprint_of(tmp_path / "clean/lake")
    assert expected[0] == 50 * 9_999  # one line of the real file has a truncated user agent

    killed = make_university(tmp_path / "killed")
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        process = subprocess.Popen(ingest_command(killed), env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.8, 2.5))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 1, "the run finished before any kill: make the input larger"
    subprocess.run(ingest_command(killed), check=True, env=env, capture_output=True)
    assert fingerprint_of(tmp_path / "killed/lake") == expected
    # The daily table, written in the same transactions, sums to the same events; the
    # summaries compaction folds them into equal their definitions.
    daily = connect(tmp_path / "killed/lake").sql("SELECT sum(events) FROM daily").fetchall()
    assert daily == [(expected[0],)]
    assert set(differences(tmp_path / "killed/lake").values()) == {0}
