"""The directory's head counts (`directory`) and the health of the collection
(`ingestion_health`), against figures computed by hand.

`directory` runs on the small lake of `lake.py` (snapshots 2026-09-01 and 2026-10-01, the lake's
days 2026-09-01 to 2026-11-11). `ingestion_health` gets a lake of its own, whose last day L is
2026-11-11 (a Wednesday): recent days are L-1 and L, usual days the 28 before (2026-10-13 to
2026-11-09). Events (all at 10:00 local time, one source per service) run from 2026-10-01:

    cas       (ent)       100 a day up to L; quarantined: 2 lines on 2026-10-15, 1 on L
    helpdesk  (helpdesk)   10 a day up to L, the last at 17:45; quarantined: 1 line on
                          2026-10-05 (before the usual days: counted nowhere), 2 on
                          2026-10-20, 6 on 2026-11-12 at 02:00 UTC (the run that read L)
    moodle    (moodle)     10 a day up to L-2 = 2026-11-09 (2 days without events: not late)
    webmail   (webmail)    10 a day up to L-3 = 2026-11-08 (late)
    ade       (none)      no event at all; quarantined: 4 lines on L (a wrong format)

Quarantine times are UTC; the recent days start at the lake's first event of L-1 (2026-11-10
10:00 local, 09:00 UTC), the usual ones at its first event of 2026-10-13 (08:00 UTC, summer time).
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.indicators.lake import EVENT_SCHEMA, QUARANTINE_SCHEMA, summarize
from tests.spark import local_spark
from vigie.indicators import Filters, builtin_indicators, publish, render_fr, run
from vigie.warehouse.query import connect
from vigie.web.data import payload

CATALOGUE = builtin_indicators()
PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")
LAST = date(2026, 11, 11)

#: source -> (service, format, events a day, last day with events or None)
SOURCES: dict[str, tuple[str, str, int, date | None]] = {
    "cas": ("ent", "cas_servicestats", 100, LAST),
    "helpdesk": ("helpdesk", "apache_combined", 10, LAST),
    "moodle": ("moodle", "moodle_logstore", 10, LAST - timedelta(days=2)),
    "webmail": ("webmail", "apache_combined", 10, LAST - timedelta(days=3)),
    "ade": ("ade", "adeweb", 0, None),
}
#: (source, quarantined at (UTC), lines)
QUARANTINED = [
    ("cas", datetime(2026, 10, 15, 3, tzinfo=UTC), 2),
    ("cas", datetime(2026, 11, 11, 3, tzinfo=UTC), 1),
    ("helpdesk", datetime(2026, 10, 5, 3, tzinfo=UTC), 1),
    ("helpdesk", datetime(2026, 10, 20, 3, tzinfo=UTC), 2),
    ("helpdesk", datetime(2026, 11, 12, 2, tzinfo=UTC), 6),
    ("ade", datetime(2026, 11, 11, 3, tzinfo=UTC), 4),
]
#: Lines written by a vigie that records the day they stood among (`near_day`): webmail's
#: logs since October read for the first time on L, a backfill; its bad lines belong to the
#: days around them (3 in the usual window, 2 before it), not to the day they were read.
#: (source, quarantined at, lines, near_day)
QUARANTINED_NEAR = [
    ("webmail", datetime(2026, 11, 11, 3, tzinfo=UTC), 3, date(2026, 10, 20)),
    ("webmail", datetime(2026, 11, 11, 3, tzinfo=UTC), 2, date(2026, 10, 5)),
]


def _event(source: str, day: date, hour: int, minute: int) -> dict[str, Any]:
    service, fmt, _, _ = SOURCES[source]
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)
    return {
        "ts": local.astimezone(UTC), "day": day, "source": source, "format": fmt,
        "action": "GET", "status": 200, "user_pseudo": None, "population": "anonymous",
        "affiliations": None, "structure": None, "structure_label": None, "etape": None,
        "cursus_year": None, "zone": "unknown", "device": "other", "browser": "Firefox",
        "os": "Linux", "weekday": day.isoweekday(), "hour": hour, "is_public_holiday": False,
        "is_school_holiday": False, "academic_year": "2026-2027", "service": service,
        "month": day.strftime("%Y-%m"),
    }


def build_health_lake(lake: Path) -> Path:
    """Writes the lake of the module docstring under `lake` and returns it."""
    rows = []
    for source, (_, _, per_day, last) in SOURCES.items():
        day = date(2026, 10, 1)
        while last is not None and day <= last:
            rows += [_event(source, day, 10, 0) for _ in range(per_day)]
            day += timedelta(days=1)
        if source == "helpdesk":  # its last event of L, later in the day
            rows[-1] = _event(source, LAST, 17, 45)
    by_partition: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_partition.setdefault((row.pop("service"), row.pop("month")), []).append(row)
    for (service, month), part in by_partition.items():
        folder = lake / "events" / f"service={service}" / f"month={month}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(part, schema=EVENT_SCHEMA), folder / "part-0.parquet")
    lines: dict[str, list[dict[str, Any]]] = {}
    for source, at, count in QUARANTINED:
        lines.setdefault(source, []).extend(
            {"file": f"{source}.log", "line_no": n, "byte_offset": 0, "reason": "x",
             "format": SOURCES[source][1], "quarantined_at": at} for n in range(count))
    for source, part in lines.items():
        folder = lake / "quarantine" / f"source={source}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(part, schema=QUARANTINE_SCHEMA),
                       folder / "part-0.parquet")
    near = QUARANTINE_SCHEMA.append(pa.field("near_day", pa.date32()))
    for source, at, count, day in QUARANTINED_NEAR:
        folder = lake / "quarantine" / f"source={source}"
        folder.mkdir(parents=True, exist_ok=True)
        rows = [{"file": f"{source}.log", "line_no": n, "byte_offset": 0, "reason": "x",
                 "format": SOURCES[source][1], "quarantined_at": at, "near_day": day}
                for n in range(count)]
        pq.write_table(pa.Table.from_pylist(rows, schema=near), folder / f"part-{day}.parquet")
    return lake


@pytest.fixture(scope="module", params=["tables", "summaries"])
def health_lake(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The lake above, without then with its daily table and compacted summaries."""
    lake = build_health_lake(tmp_path_factory.mktemp("health") / "lake")
    if request.param == "summaries":
        summarize(lake)
    yield lake
    shutil.rmtree(lake)


def health(source: str, fmt: str, last_event: str | None, status: str, days_late: int | None,
           recent: tuple[int, int], usual: tuple[int, int]) -> dict[str, Any]:
    """An expected row from the windows' (lines read, lines quarantined): 2 and 28 days."""
    (lines, bad), (usual_lines, usual_bad) = recent, usual
    return {
        "source": source, "format": fmt, "last_event": last_event, "status": status,
        "days_late": days_late,
        "lines_per_day": lines / 2, "quarantined_per_day": bad / 2,
        "quarantine_rate": bad / lines if lines else None,
        "usual_lines_per_day": usual_lines / 28, "usual_quarantined_per_day": usual_bad / 28,
        "usual_quarantine_rate": usual_bad / usual_lines if usual_lines else None,
    }


EXPECTED_HEALTH = [
    # Every line of the recent days quarantined, and no event at all.
    health("ade", "adeweb", None, "late_failures_rising", None, (4, 4), (0, 0)),
    # 1 / 201 is above 3 times 2 / 2,802, but below 1 %: not a jump.
    health("cas", "cas_servicestats", "2026-11-11 10:00", "ok", 0, (201, 1), (2802, 2)),
    # 6 / 26 (23 %) against 2 / 282 (0.7 %).
    health("helpdesk", "apache_combined", "2026-11-11 17:45", "failures_rising", 0, (26, 6),
           (282, 2)),
    health("moodle", "moodle_logstore", "2026-11-09 10:00", "ok", 2, (0, 0), (280, 0)),
    # A backfill: its bad lines read on L count among the days they stood, not as recent.
    health("webmail", "apache_combined", "2026-11-08 10:00", "late", 3, (0, 0), (273, 3)),
]


def test_indicators_default_ingestion_health(health_lake: Path) -> None:
    con = connect(health_lake)
    assert run(CATALOGUE["ingestion_health"], con).to_pylist() == EXPECTED_HEALTH
    # Windows are bounded by instants, never by a timestamp cast to a day: the session's time
    # zone (the server's, on DuckDB) changes nothing.
    con.execute("SET TimeZone = 'America/Los_Angeles'")
    assert run(CATALOGUE["ingestion_health"], con).to_pylist() == EXPECTED_HEALTH


def test_indicators_ingestion_health_reads_no_events() -> None:
    """Each reference of `events` lists and binds every file of the lake (about 100 ms with
    2,000 files, whatever the days read): the first event of a day and each source's last one
    come from `source_hours`, which keeps the first and last instant of each hour."""
    sql = CATALOGUE["ingestion_health"].sql
    assert not re.search(r"\b(?:FROM|JOIN)\s+events\b", sql, re.IGNORECASE)
    assert "FROM source_hours" in sql


def test_indicators_default_ingestion_health_of_the_small_lake(
        con: duckdb.DuckDBPyConnection) -> None:
    """L = 2026-11-11; every quarantined line (2026-11-12) is recent; cas's last event is on
    2026-10-20 (22 days), its only usual line the event of that day."""
    assert run(CATALOGUE["ingestion_health"], con).to_pylist() == [
        health("cas", "cas_servicestats", "2026-10-20 09:30", "late_failures_rising", 22,
               (3, 3), (1, 0)),
        health("helpdesk", "apache_combined", "2026-11-11 11:30", "failures_rising", 0,
               (2, 1), (1, 0)),
    ]


def test_indicators_ingestion_health_status_is_labelled_and_highlighted(
        health_lake: Path) -> None:
    """The web answer labels each status in the reader's language and lists the rows to
    highlight: those whose status is not `ok`."""
    indicator = CATALOGUE["ingestion_health"]
    table = publish(indicator, connect(health_lake))
    french = payload(table, indicator, Filters(), 5, "fr")
    assert french["warnings"] == [0, 2, 4]
    assert french["labels"] == {"late": "en retard", "failures_rising": "échecs en hausse",
                                "late_failures_rising": "en retard, échecs en hausse",
                                "ok": "ok"}
    assert payload(table, indicator, Filters(), 5, "en")["labels"]["late"] == "late"
    assert [row["quarantine_rate"] for row in french["text"]] == [
        "100,0\u202f%", "0,5\u202f%", "23,1\u202f%", "–", "–"]
    adoption = CATALOGUE["adoption"]
    assert payload(pa.table({c: [] for c in adoption.columns}), adoption, Filters(), 5,
                   "fr")["warnings"] == []


def test_indicators_ingestion_health_on_spark(health_lake: Path) -> None:
    """The windows and the status on Spark: the same rows as DuckDB, in a session time zone
    half a day away from UTC."""
    from vigie.indicators.spark import run_spark

    with local_spark("vigie-health-tests", "Pacific/Auckland") as spark:
        got = run_spark(CATALOGUE["ingestion_health"], spark, health_lake).to_pylist()
    assert len(got) == len(EXPECTED_HEALTH)
    for row, expected in zip(got, EXPECTED_HEALTH, strict=True):
        assert row.keys() == expected.keys()
        for key, value in expected.items():
            if isinstance(value, float):
                assert math.isclose(row[key], value, rel_tol=1e-12), (row, key)
            else:
                assert row[key] == value, (row, key)


def people(day: date, population: str, structure: str | None, count: int) -> dict[str, Any]:
    labels = {"SCI": "Sciences", "LET": "Lettres", "ADM": "Administration"}
    return {"day": day, "population": population, "structure": structure,
            "structure_label": labels.get(structure or ""), "people": count}


def snapshot(day: date, students_sci: int) -> list[dict[str, Any]]:
    """Every segment of the small lake's directory on `day` (s11 joins SCI on 2026-10-01)."""
    return [people(day, "employee", "ADM", 2), people(day, "faculty", "LET", 2),
            people(day, "faculty", "SCI", 4), people(day, "student", None, 1),
            people(day, "student", "LET", 1), people(day, "student", "SCI", students_sci)]


def test_indicators_default_directory(con: duckdb.DuckDBPyConnection) -> None:
    """The two snapshot days, then the lake's last day (the first is a snapshot day)."""
    assert run(CATALOGUE["directory"], con).to_pylist() == [
        *snapshot(date(2026, 9, 1), 8), *snapshot(date(2026, 10, 1), 9),
        *snapshot(date(2026, 11, 11), 9)]


def test_indicators_directory_filters(con: duckdb.DuckDBPyConnection) -> None:
    """A period between snapshots starts with the one valid on its first day."""
    indicator = CATALOGUE["directory"]
    students = Filters(start=date(2026, 9, 15), end=date(2026, 10, 15), population="student")
    assert run(indicator, con, students).to_pylist() == [
        people(date(2026, 9, 15), "student", None, 1),
        people(date(2026, 9, 15), "student", "LET", 1),
        people(date(2026, 9, 15), "student", "SCI", 8),
        people(date(2026, 10, 1), "student", None, 1),
        people(date(2026, 10, 1), "student", "LET", 1),
        people(date(2026, 10, 1), "student", "SCI", 9),
        people(date(2026, 10, 15), "student", None, 1),
        people(date(2026, 10, 15), "student", "LET", 1),
        people(date(2026, 10, 15), "student", "SCI", 9),
    ]
    september = Filters(end=date(2026, 9, 30), structure="LET")
    assert run(indicator, con, september).to_pylist() == [
        people(date(2026, 9, 1), "faculty", "LET", 2),
        people(date(2026, 9, 1), "student", "LET", 1),
        people(date(2026, 9, 30), "faculty", "LET", 2),
        people(date(2026, 9, 30), "student", "LET", 1),
    ]
    e2 = Filters(start=date(2026, 11, 1), etape="E2")
    assert run(indicator, con, e2).to_pylist() == [
        people(date(2026, 11, 1), "student", "LET", 1),
        people(date(2026, 11, 11), "student", "LET", 1),
    ]


def test_indicators_directory_withholds_small_head_counts(
        con: duckdb.DuckDBPyConnection) -> None:
    """Only the students of SCI (8, then 9) reach k = 5; the other cells read `< 5`."""
    indicator = CATALOGUE["directory"]
    october = Filters(start=date(2026, 10, 1), end=date(2026, 10, 1))
    published = publish(indicator, con, october)
    assert published["people"].to_pylist() == [None, None, None, None, None, 9]
    assert published["people_suppressed"].to_pylist() == [True] * 5 + [False]
    assert [row["people"] for row in render_fr(published, indicator)] == (
        ["<\u202f5"] * 5 + ["9"])
    assert publish(indicator, con, october, k=2)["people_suppressed"].to_pylist() == [
        False, False, False, True, True, False]


def test_indicators_default_directory_trend(con: duckdb.DuckDBPyConnection) -> None:
    """Per population, summed over structures: students are 1 + 1 + 8, then 1 + 1 + 9."""
    def day(when: date, students: int) -> list[dict[str, Any]]:
        return [{"day": when, "population": "employee", "people": 2},
                {"day": when, "population": "faculty", "people": 6},
                {"day": when, "population": "student", "people": students}]

    indicator = CATALOGUE["directory_trend"]
    assert run(indicator, con).to_pylist() == [
        *day(date(2026, 9, 1), 10), *day(date(2026, 10, 1), 11), *day(date(2026, 11, 11), 11)]
    sciences = Filters(start=date(2026, 9, 15), end=date(2026, 9, 30), structure="SCI")
    assert run(indicator, con, sciences).to_pylist() == [
        {"day": date(2026, 9, 15), "population": "faculty", "people": 4},
        {"day": date(2026, 9, 15), "population": "student", "people": 8},
        {"day": date(2026, 9, 30), "population": "faculty", "people": 4},
        {"day": date(2026, 9, 30), "population": "student", "people": 8}]
    published = publish(indicator, con, Filters(start=date(2026, 10, 1), end=date(2026, 10, 1)))
    assert published["people"].to_pylist() == [None, 6, 11]
    assert published["people_suppressed"].to_pylist() == [True, False, False]
