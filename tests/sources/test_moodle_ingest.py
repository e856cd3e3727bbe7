"""`vigie ingest` of Moodle's log: from a real PostgreSQL (incremental) and from a CSV export."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.sources.conftest import Postgres, copy_log_rows, copy_users
from tests.sources.test_moodle import FIXTURES, USERS, make_rows
from vigie.config import load_config
from vigie.ingest import tables
from vigie.ingest.pipeline import ingest
from vigie.warehouse.query import connect

SECRET = b"test-secret-0123456789abcdef"


def database_config(folder: Path, server: Postgres) -> Path:
    return write_config(folder, f"""
[[sources]]
name = "moodle-db"
format = "moodle_logstore"
service = "moodle"
[sources.database]
uri = "{server.uri}"
password_env = "TEST_MOODLE_PASSWORD"
batch_seconds = 3600
""")


def test_ingest_moodle_database_is_incremental(
    tmp_path: Path, moodle_db: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_MOODLE_PASSWORD", moodle_db.password)
    copy_users(moodle_db, USERS, "mdl_user")
    first = make_rows(2_000, start_id=1, start_time=1_700_000_000, seed=3)
    copy_log_rows(moodle_db, first, "mdl_logstore_standard_log")
    config = database_config(tmp_path, moodle_db)
    report = ingest(load_config(config), secret=SECRET)
    assert report.rows == 2_000 and not any(f.error for f in report.files)
    more = make_rows(500, start_id=2_001, start_time=1_750_000_000, seed=4)  # after the first
    copy_log_rows(moodle_db, more, "mdl_logstore_standard_log")
    assert ingest(load_config(config), secret=SECRET).rows == 500
    assert ingest(load_config(config), secret=SECRET).rows == 0
    con = connect(tmp_path / "lake")
    assert con.sql("SELECT count(*) FROM events WHERE service = 'moodle'").fetchall() == [(2_500,)]
    actions = {a for (a,) in con.sql("SELECT DISTINCT action FROM events").fetchall()}
    assert "course_viewed" in actions


def test_ingest_moodle_database_password_missing_is_reported(
    tmp_path: Path, moodle_db: Postgres
) -> None:
    report = ingest(load_config(database_config(tmp_path, moodle_db)), secret=SECRET)
    (failed,) = report.files
    assert failed.error is not None and "TEST_MOODLE_PASSWORD" in failed.error


@pytest.mark.parametrize("slice_rows", [500_000, 2])
def test_ingest_moodle_csv_export_once_with_rejects_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slice_rows: int,
) -> None:
    monkeypatch.setattr(tables, "EXPORT_SLICE_ROWS", slice_rows)  # one slice, or many
    config = write_config(tmp_path, f"""
[[sources]]
name = "moodle-csv"
format = "moodle_logstore"
service = "moodle"
paths = ["{FIXTURES}/logstore_standard_log.csv"]
users_csv = "{FIXTURES}/user.csv"
""")
    report = ingest(load_config(config), secret=SECRET)
    assert report.rows > 0 and report.quarantined == 2
    con = connect(tmp_path / "lake")
    assert sorted(con.sql("SELECT line_no FROM quarantine").fetchall()) == [(5,), (8,)]
    assert con.sql("SELECT count(*) FROM events WHERE user_pseudo IS NOT NULL").fetchall()[0][0]
    assert con.sql("SELECT count(*) FROM events").fetchall() == [(report.rows,)]
    assert con.sql("SELECT sum(events) FROM daily").fetchall() == [(report.rows,)]
    assert ingest(load_config(config), secret=SECRET).rows == 0
