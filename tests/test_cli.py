"""The `vigie` command as a user runs it: demo, query (table, JSON, CSV), formats, secret,
indicators (on DuckDB and on Spark)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.indicators.lake import build_summarized_lake
from tests.spark import same_rows
from vigie.cli import app
from vigie.indicators.catalogue import load_catalogue

RUNNER = CliRunner()
#: How the CLI's Spark run starts its JVM, through the environment since the command takes no
#: Spark option: on a lake of a few dozen rows the run is mostly the JVM compiling Spark's own
#: code, and its quick compiler alone (C1) saves about a fifth of it, without changing anything
#: Spark plans or computes (its SQL settings stay the defaults a user gets).
QUICK_JVM = "--driver-java-options -XX:TieredStopAtLevel=1 pyspark-shell"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo university, generated and ingested by `vigie demo` itself."""
    folder = tmp_path_factory.mktemp("cli") / "demo"
    result = RUNNER.invoke(app, ["demo", "--dir", str(folder), "--people", "200", "--days", "10"],
                           env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Events in the lake per service" in result.output
    assert "quarantined" in result.output
    return folder


def test_cli_demo_creates_its_own_secret_outside_the_lake(demo: Path) -> None:
    secret = demo / "secret"
    assert secret.exists() and (secret.stat().st_mode & 0o777) == 0o600
    assert not (demo / "lake" / "secret").exists()


def test_cli_query_json_and_csv(demo: Path) -> None:
    sql = "SELECT service, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"
    config = str(demo / "vigie.toml")
    as_json = RUNNER.invoke(app, ["query", sql, "-c", config, "-f", "json"])
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)
    assert {r["service"] for r in rows} >= {"ent", "moodle", "helpdesk"}
    as_csv = RUNNER.invoke(app, ["query", sql, "--lake", str(demo / "lake"), "-f", "csv"])
    parsed = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [(r["service"], int(r["n"])) for r in parsed] == [(r["service"], r["n"]) for r in rows]
    table = RUNNER.invoke(app, ["query", sql, "-c", config], env={"COLUMNS": "160"})
    assert "service" in table.output and "ent" in table.output


def test_cli_query_population_daily_and_bad_sql(demo: Path) -> None:
    config = str(demo / "vigie.toml")
    ok = RUNNER.invoke(app, ["query", "SELECT sum(people) AS p FROM population_daily "
                                      "GROUP BY day ORDER BY day LIMIT 1", "-c", config,
                             "-f", "json"])
    assert json.loads(ok.output)[0]["p"] == 200
    bad = RUNNER.invoke(app, ["query", "SELECT nope FROM events", "-c", config])
    assert bad.exit_code == 2 and "query failed" in bad.output


def test_cli_rerun_of_ingest_adds_nothing(demo: Path) -> None:
    result = RUNNER.invoke(app, ["ingest", "-c", str(demo / "vigie.toml")],
                           env={"COLUMNS": "160", "VIGIE_SECRET": ""})
    assert result.exit_code == 0, result.output
    assert "Run: 0 new events" in result.output


def test_cli_formats_lists_shipped_formats() -> None:
    result = RUNNER.invoke(app, ["formats"], env={"COLUMNS": "200"})
    for name in ("cas_servicestats", "apache_combined", "moodle_logstore", "dovecot"):
        assert name in result.output


def test_cli_secret_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    assert RUNNER.invoke(app, ["secret", "--create", str(path)]).exit_code == 0
    again = RUNNER.invoke(app, ["secret", "--create", str(path)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_cli_indicators_on_the_demo(demo: Path) -> None:
    config = str(demo / "vigie.toml")
    listed = RUNNER.invoke(app, ["indicators", "--list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "adoption" in listed.output
    table = RUNNER.invoke(app, ["indicators", "-c", config, "--id", "adoption"],
                          env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "adoption" in table.output
    as_json = RUNNER.invoke(app, ["indicators", "-c", config, "-f", "json"])
    assert as_json.exit_code == 0, as_json.output
    results = json.loads(as_json.output)
    assert {"adoption", "devices", "rhythm", "quarantine"} <= set(results)
    assert "user_pseudo" not in as_json.output
    as_csv = RUNNER.invoke(app, ["indicators", "-c", config, "--id", "devices", "-f", "csv",
                                 "--service", "ent"])
    assert as_csv.exit_code == 0 and as_csv.output.startswith("service,")
    # As the web's export: a withheld cell reads "< k".
    withheld = RUNNER.invoke(app, ["indicators", "-c", config, "--id", "adoption", "-f", "csv",
                                   "--k", "100000"])
    assert withheld.exit_code == 0, withheld.output
    header, first = withheld.output.splitlines()[:2]
    cells = dict(zip(header.split(","), first.split(","), strict=True))
    assert cells["users"] == "< 100000" and cells["users_suppressed"] == "True"
    bad = RUNNER.invoke(app, ["indicators", "-c", config, "--id", "nope"])
    assert bad.exit_code == 2 and "unknown indicator" in bad.output


def _indicators_json(lake: Path, engine: str, cwd: Path) -> tuple[dict[str, Any], str]:
    """`vigie indicators --lake LAKE -f json --k 2 --engine ENGINE` in its own process (so the
    Spark run starts and stops its own JVM, as a user's does), parsed, with its stderr.

    k = 2 keeps most cells of the small lake published, so the comparison covers numbers and
    not only withheld cells.
    """
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": QUICK_JVM, "SPARK_LOCAL_IP": "127.0.0.1",
           "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "vigie.cli", "indicators", "--lake", str(lake), "--k", "2",
         "--engine", engine, "-f", "json"],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=cwd, timeout=600,
        check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), done.stderr


def test_cli_indicators_spark_engine_gives_duckdb_answers(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """`vigie indicators --engine spark` prints, for every indicator of the catalogue, the JSON
    `--engine duckdb` prints, on the small hand-made lake as ingestion leaves it (summaries
    included). One Spark run for the whole catalogue: its JVM start dominates."""
    pytest.importorskip("pyspark", reason="a test dependency: pip install -e '.[test]'")
    if shutil.which("java") is None:  # pragma: no cover - CI installs a Java runtime
        pytest.skip("PySpark needs a Java runtime (scripts/system-packages installs it)")
    folder = tmp_path_factory.mktemp("cli-engines")
    lake = build_summarized_lake(folder / "lake")
    duckdb, _ = _indicators_json(lake, "duckdb", folder)
    spark, log = _indicators_json(lake, "spark", folder)
    assert "Spark" in log  # the JVM did run
    assert set(duckdb) == set(spark) == set(load_catalogue())
    assert all(duckdb[i] for i in duckdb), "every indicator must have rows on the small lake"
    published = [v for rows in duckdb.values() for r in rows for c, v in r.items()
                 if not c.endswith("_suppressed")]
    assert any(isinstance(v, float) for v in published)
    assert any(v is True for rows in duckdb.values() for r in rows
               for c, v in r.items() if c.endswith("_suppressed"))
    for indicator in sorted(duckdb):
        assert same_rows(spark[indicator], duckdb[indicator]), indicator
