"""Moodle's standard log: the database reader against a real PostgreSQL, the CSV reader, the format.

The database holds Moodle's own table definitions (see conftest.py) and a few thousand rows whose
seconds are shared by many rows (Moodle writes bursts), separated by gaps of hours and days, with
visitors not logged in (userid 0), "log in as" sessions (realuserid) and ids that do not follow
`timecreated` (Moodle buffers log writes per request).
"""

from __future__ import annotations

import itertools
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tests.sources.conftest import LOGSTORE_DDL, Postgres, copy_log_rows, copy_users
from vigie.errors import SourceError
from vigie.sources.compile import compile_format
from vigie.sources.moodle import (
    LOGSTORE_COLUMNS,
    LOGSTORE_SCHEMA,
    REJECTS_SCHEMA,
    read_logstore_csv,
    read_logstore_db,
)
from vigie.sources.spec import builtin_formats

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "moodle"
T0 = 1_700_000_000
FAR = T0 + 10 * 365 * 86_400

EVENTS = [
    ("\\core\\event\\user_loggedin", "core", "loggedin", "user", "r", 0),
    ("\\core\\event\\course_viewed", "core", "viewed", "course", "r", 2),
    ("\\mod_quiz\\event\\attempt_submitted", "mod_quiz", "submitted", "attempt", "u", 2),
    ("\\mod_forum\\event\\course_module_viewed", "mod_forum", "viewed", "course_module", "r", 2),
    ("\\mod_resource\\event\\course_module_viewed", "mod_resource", "viewed", "course_module",
     "r", 2),
]

#: (id, username, deleted): guest, admin, students; one deleted account.
USERS = [(1, "guest", 0), (2, "admin", 0)] + [(n, f"etu{n:03d}", 0) for n in range(3, 60)] + [
    (60, "alice.martin@etu.univ.test.1699999999", 1)
]
NAMES = {uid: name for uid, name, _ in USERS}


def make_rows(n: int, *, start_id: int, start_time: int, seed: int) -> list[tuple[Any, ...]]:
    """`n` log rows (in `LOG_COPY_COLUMNS` order), bursts of one second and gaps of hours."""
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    t = start_time
    ids = list(range(start_id, start_id + n))
    # Moodle buffers a request's events: ids are not always in timecreated order.
    for i in range(0, n - 4, 37):
        ids[i], ids[i + 3] = ids[i + 3], ids[i]
    for k in range(n):
        r = rng.random()
        if r < 0.55:
            pass  # same second as the previous row
        elif r < 0.95:
            t += rng.randint(1, 120)
        elif r < 0.99:
            t += rng.randint(3_600, 20_000)
        else:
            t += rng.randint(86_400, 9 * 86_400)  # a weekend, the holidays
        event, component, action, target, crud, edulevel = rng.choice(EVENTS)
        userid = rng.choice([0, 1, 2, 60, 999, *range(3, 60)])  # 999: no such user row
        realuserid = 2 if rng.random() < 0.03 else None
        course = rng.choice([None, 1, 12, 34])
        ip = rng.choice(["10.1.2.3", "193.54.1.1", "2001:660:1:2::7", "", None])
        rows.append(
            (ids[k], event, component, action, target, None, None, crud, edulevel,
             rng.randint(1, 500), 50, rng.randint(1, 900), userid, course, None, 0,
             '{"a":"b, c"}' if k % 7 == 0 else None, t, rng.choice(["web", "ws", "cli"]), ip,
             realuserid)
        )
    return rows


def expected(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """What the reader must return for `rows`, in (timecreated, id) order."""
    out = [
        {
            "line_no": r[0], "byte_offset": 0, "timecreated": r[17],
            "username": NAMES.get(r[12]), "realusername": NAMES.get(r[20]) if r[20] else None,
            "ip": r[19], "eventname": r[1], "component": r[2], "action": r[3], "target": r[4],
            "crud": r[7], "origin": r[18], "courseid": r[13], "contextinstanceid": r[11],
            "edulevel": r[8],
        }
        for r in rows
    ]
    return sorted(out, key=lambda d: (d["timecreated"], d["line_no"]))


def read_all(server: Postgres, **kwargs: Any) -> tuple[list[pa.Table], list[tuple[int, int]]]:
    kwargs.setdefault("until", FAR)
    batches = list(read_logstore_db(server.uri, password=server.password, **kwargs))
    return [b for b, _ in batches], [c for _, c in batches]


def rows_of(batches: list[pa.Table]) -> list[dict[str, Any]]:
    if not batches:
        return []
    rows: list[dict[str, Any]] = pa.concat_tables(batches).to_pylist()
    return rows


@pytest.fixture
def loaded(moodle_db: Postgres) -> tuple[Postgres, list[tuple[Any, ...]]]:
    rows = make_rows(3_000, start_id=1, start_time=T0, seed=7)
    copy_users(moodle_db, USERS, "mdl_user")
    copy_log_rows(moodle_db, rows, "mdl_logstore_standard_log")
    return moodle_db, rows


# --- database reader -----------------------------------------------------------------------


def test_full_read_equals_inserted_rows(loaded: tuple[Postgres, list[tuple[Any, ...]]]) -> None:
    server, rows = loaded
    batches, cursors = read_all(server, batch_seconds=86_400)
    assert len(batches) > 3
    for table, cursor in zip(batches, cursors, strict=True):
        assert table.schema == LOGSTORE_SCHEMA
        assert table.num_rows > 0
        assert cursor == (table["timecreated"][-1].as_py(), table["line_no"][-1].as_py())
        span = table["timecreated"][-1].as_py() - table["timecreated"][0].as_py()
        assert span < 86_400
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert rows_of(batches) == expected(rows)
    assert tuple(batches[0].column_names) == LOGSTORE_COLUMNS


@pytest.mark.parametrize("batch_seconds", [1, 7, 3_600])
def test_windows_neither_lose_nor_repeat_rows_of_a_shared_second(
    loaded: tuple[Postgres, list[tuple[Any, ...]]], batch_seconds: int
) -> None:
    server, rows = loaded
    batches, _ = read_all(server, batch_seconds=batch_seconds)
    assert rows_of(batches) == expected(rows)
    # A second is never split between two batches.
    seconds = [set(b["timecreated"].to_pylist()) for b in batches]
    for before, after in itertools.pairwise(seconds):
        assert not before & after


def test_resume_inside_a_second_uses_the_id(
    loaded: tuple[Postgres, list[tuple[Any, ...]]],
) -> None:
    server, rows = loaded
    want = expected(rows)
    counts: dict[int, int] = {}
    for r in want:
        counts[r["timecreated"]] = counts.get(r["timecreated"], 0) + 1
    busy = max(counts, key=lambda t: counts[t])
    inside = [r for r in want if r["timecreated"] == busy]
    assert len(inside) >= 3
    cursor = (busy, inside[1]["line_no"])
    batches, _ = read_all(server, after=cursor, batch_seconds=50)
    got = rows_of(batches)
    assert got == [r for r in want if (r["timecreated"], r["line_no"]) > cursor]


def test_incremental_read_returns_only_new_rows(
    loaded: tuple[Postgres, list[tuple[Any, ...]]],
) -> None:
    server, rows = loaded
    _, cursors = read_all(server)
    cursor = cursors[-1]
    assert read_all(server, after=cursor) == ([], [])
    # New rows: some in the very second of the cursor (written later, higher ids), then later.
    last_time = cursor[0]
    more = make_rows(500, start_id=10_000, start_time=last_time, seed=8)
    copy_log_rows(server, more, "mdl_logstore_standard_log")
    batches, new_cursors = read_all(server, after=cursor, batch_seconds=600)
    assert rows_of(batches) == expected(more)
    assert any(b["timecreated"][0].as_py() == last_time for b in batches[:1])
    # Reading everything again gives old and new rows once each.
    everything, _ = read_all(server)
    assert rows_of(everything) == expected(rows + more)
    assert read_all(server, after=new_cursors[-1]) == ([], [])


def test_until_is_respected(loaded: tuple[Postgres, list[tuple[Any, ...]]]) -> None:
    server, rows = loaded
    want = expected(rows)
    until = want[len(want) // 2]["timecreated"]
    batches, cursors = read_all(server, until=until, batch_seconds=3_600)
    assert rows_of(batches) == [r for r in want if r["timecreated"] <= until]
    rest, _ = read_all(server, after=cursors[-1])
    assert rows_of(rest) == [r for r in want if r["timecreated"] > until]


def test_default_until_leaves_the_last_minute_unread(moodle_db: Postgres) -> None:
    now = int(time.time())
    rows = make_rows(2, start_id=1, start_time=now - 3_600, seed=1)
    recent = make_rows(1, start_id=3, start_time=now - 5, seed=2)
    copy_log_rows(moodle_db, rows + recent, "mdl_logstore_standard_log")
    batches = [b for b, _ in read_logstore_db(moodle_db.uri, password=moodle_db.password)]
    assert [r["line_no"] for r in rows_of(batches)] == [r["line_no"] for r in expected(rows)]


def test_empty_windows_are_skipped(moodle_db: Postgres) -> None:
    rows = [
        *make_rows(3, start_id=1, start_time=T0, seed=3),
        *make_rows(3, start_id=4, start_time=T0 + 200 * 86_400, seed=4),
        *make_rows(3, start_id=7, start_time=T0 + 400 * 86_400, seed=5),
    ]
    copy_users(moodle_db, USERS, "mdl_user")
    copy_log_rows(moodle_db, rows, "mdl_logstore_standard_log")
    started = time.monotonic()
    batches, _ = read_all(moodle_db, batch_seconds=1)
    assert time.monotonic() - started < 10  # not one query per empty second
    assert rows_of(batches) == expected(rows)
    assert len(batches) == len({r[17] for r in rows})


def test_user_ids_become_logins(loaded: tuple[Postgres, list[tuple[Any, ...]]]) -> None:
    server, _ = loaded
    got = rows_of(read_all(server)[0])
    by_name = {r["username"] for r in got}
    assert {"guest", "admin", "etu003"} <= by_name
    assert None in by_name  # userid 0 (not logged in) and 999 (no user row)
    assert "alice.martin@etu.univ.test.1699999999" in by_name  # deleted account: stable value
    assert {r["realusername"] for r in got} == {None, "admin"}
    assert "userid" not in LOGSTORE_COLUMNS and "realuserid" not in LOGSTORE_COLUMNS


def test_other_prefix(moodle_db: Postgres) -> None:
    with moodle_db.connect() as conn:
        conn.execute(LOGSTORE_DDL.format(p="m42_"))
    try:
        rows = make_rows(40, start_id=1, start_time=T0, seed=6)
        copy_users(moodle_db, USERS, "m42_user")
        copy_log_rows(moodle_db, rows, "m42_logstore_standard_log")
        batches, _ = read_all(moodle_db, prefix="m42_")
        assert rows_of(batches) == expected(rows)
        assert read_all(moodle_db)[0] == []  # mdl_ tables are empty
    finally:
        with moodle_db.connect() as conn:
            conn.execute("DROP TABLE m42_logstore_standard_log, m42_user")


@pytest.mark.parametrize(
    "prefix", ["mdl_; DROP TABLE mdl_user; --", "MDL_", 'mdl"', "", "mdl-", "mdl_ "]
)
def test_bad_prefix_is_rejected_before_connecting(prefix: str) -> None:
    with pytest.raises(SourceError, match="prefix"):
        read_logstore_db("postgresql://nobody@127.0.0.1:1/x", password=None, prefix=prefix)


def test_uri_must_be_postgresql() -> None:
    with pytest.raises(SourceError, match="postgresql://"):
        read_logstore_db("mysql://moodle@db/moodle", password="secret")


def test_missing_tables_name_the_prefix(moodle_db: Postgres) -> None:
    with pytest.raises(SourceError, match="nope_logstore_standard_log"):
        read_all(moodle_db, prefix="nope_")


def test_wrong_password_is_reported_without_the_password(moodle_db: Postgres) -> None:
    wrong = "not-the-password-4711"
    with pytest.raises(SourceError) as caught:
        list(read_logstore_db(moodle_db.uri, password=wrong, until=FAR))
    assert wrong not in str(caught.value)
    assert "cannot connect" in str(caught.value)


# --- CSV export ----------------------------------------------------------------------------


def test_csv_export_with_users() -> None:
    rows, rejects = read_logstore_csv(
        FIXTURES / "logstore_standard_log.csv", users_csv=FIXTURES / "user.csv"
    )
    assert rows.schema == LOGSTORE_SCHEMA
    assert rejects.schema == REJECTS_SCHEMA
    got = rows.to_pylist()
    assert [r["line_no"] for r in got] == [2, 3, 4, 6, 7, 9, 10]
    assert [r["username"] for r in got] == ["etu3", "etu3", "etu4", None, "etu3", "guest", "admin"]
    assert [r["realusername"] for r in got] == [None] * 4 + ["admin", None, None]
    assert got[0]["eventname"] == "\\core\\event\\user_loggedin"
    assert got[1]["courseid"] == 12 and got[2]["contextinstanceid"] == 301
    assert got[4]["ip"] == ""  # PostgreSQL's "" is an empty string...
    assert got[6]["ip"] is None  # ...and its empty field a NULL
    reasons = dict(zip(rejects["line_no"].to_pylist(), rejects["reason"].to_pylist(), strict=True))
    assert sorted(reasons) == [5, 8]
    assert "timecreated" in reasons[5] and "hier" in reasons[5]
    assert "Found: 3" in reasons[8]


def test_csv_without_users_keeps_no_user_id() -> None:
    rows, rejects = read_logstore_csv(FIXTURES / "logstore_standard_log.csv", users_csv=None)
    assert rows.num_rows == 7 and rejects.num_rows == 2
    assert rows["username"].null_count == 7 and rows["realusername"].null_count == 7
    values = {str(v) for col in rows.columns for v in col.to_pylist()}
    assert not any(name in rows.column_names for name in ("userid", "realuserid", "id"))
    assert "etu3" not in values


def test_csv_missing_columns_and_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SourceError, match="empty"):
        read_logstore_csv(empty, users_csv=None)
    other = tmp_path / "other.csv"
    other.write_text("id,name\n1,x\n")
    with pytest.raises(SourceError, match="timecreated"):
        read_logstore_csv(other, users_csv=None)
    users = tmp_path / "users.csv"
    users.write_text("id,login\n1,x\n")
    with pytest.raises(SourceError, match="username"):
        read_logstore_csv(FIXTURES / "logstore_standard_log.csv", users_csv=users)


def test_csv_exported_by_postgresql_matches_the_database_reader(
    loaded: tuple[Postgres, list[tuple[Any, ...]]], tmp_path: Path
) -> None:
    server, rows = loaded
    log_csv, user_csv = tmp_path / "log.csv", tmp_path / "user.csv"
    with server.connect() as conn, conn.cursor() as cur:
        for table, target in (("mdl_logstore_standard_log", log_csv), ("mdl_user", user_csv)):
            with (
                target.open("wb") as out,
                cur.copy(f"COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
                as copy,
            ):
                for data in copy:
                    out.write(data)
    # A line broken by hand after the export.
    lines = log_csv.read_text().splitlines(keepends=True)
    broken = 1_234
    lines[broken - 1] = lines[broken - 1].replace(",web,", ",web,x,", 1).replace(
        ",ws,", ",ws,x,", 1).replace(",cli,", ",cli,x,", 1)
    log_csv.write_text("".join(lines))
    got, rejects = read_logstore_csv(log_csv, users_csv=user_csv)
    assert rejects["line_no"].to_pylist() == [broken]
    from_db = {r["line_no"]: r for r in expected(rows)}
    assert got.num_rows == len(rows) - 1
    for row in got.to_pylist():
        line = row.pop("line_no")
        # The export is ordered by id and ids are 1..n: the id of line L is L - 1.
        want = dict(from_db[line - 1])
        want.pop("line_no")
        assert row == want


# --- format --------------------------------------------------------------------------------


def test_format_maps_the_reader_columns(loaded: tuple[Postgres, list[tuple[Any, ...]]]) -> None:
    server, _ = loaded
    spec = builtin_formats()["moodle_logstore"]
    assert spec.kind == "table" and spec.time_format == "epoch"
    compiled = compile_format(spec)
    table = pa.concat_tables(read_all(server)[0])
    con = duckdb.connect()
    con.register("rel", table)
    parsed = compiled.parse(con, "rel", timezone="Europe/Paris", reference=datetime.now(UTC))
    out = parsed.sort_by("line_no").to_pylist()
    src = {r["line_no"]: r for r in table.to_pylist()}
    assert len(out) == table.num_rows
    for event in out:
        row = src[event["line_no"]]
        assert event["_reason"] is None
        assert event["ts"] == datetime.fromtimestamp(row["timecreated"], UTC)
        assert event["user"] == (None if row["username"] == "guest" else row["username"])
        assert event["ip"] == (row["ip"] or None)
        assert event["user_agent"] is None and event["status"] is None
        assert event["target"] == f"{row['component']}/{row['courseid'] or 0}"
    actions = {r["action"] for r in out}
    assert actions == {
        "user_loggedin", "course_viewed", "mod_quiz.attempt_submitted",
        "mod_forum.course_module_viewed", "mod_resource.course_module_viewed",
    }


def test_format_on_the_csv_reader_output() -> None:
    rows, _ = read_logstore_csv(FIXTURES / "logstore_standard_log.csv",
                                users_csv=FIXTURES / "user.csv")
    compiled = compile_format(builtin_formats()["moodle_logstore"])
    con = duckdb.connect()
    con.register("rel", rows)
    con.register("parsed", compiled.parse(con, "rel", timezone="Europe/Paris",
                                          reference=datetime.now(UTC)))
    out = con.sql("SELECT line_no, user, action, target FROM parsed ORDER BY line_no")
    assert out.fetchall() == [
        (2, "etu3", "user_loggedin", "core/0"),
        (3, "etu3", "course_viewed", "core/12"),
        (4, "etu4", "mod_quiz.attempt_submitted", "mod_quiz/12"),
        (6, None, "course_viewed", "core/12"),
        (7, "etu3", "mod_forum.course_module_viewed", "mod_forum/12"),
        (9, None, "dashboard_viewed", "core/1"),
        (10, "admin", "config_log_created", "core/0"),
    ]
