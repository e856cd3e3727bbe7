"""The `vigie` command as a user runs it: demo, query (table, JSON, CSV), formats, secret."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigie.cli import app

RUNNER = CliRunner()


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
    bad = RUNNER.invoke(app, ["indicators", "-c", config, "--id", "nope"])
    assert bad.exit_code == 2 and "unknown indicator" in bad.output
