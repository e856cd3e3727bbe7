"""Every shipped indicator on the hand-made lake, against figures computed by hand (lake.py).

The meta-test in test_catalogue.py requires a `test_indicators_default_<id>` here for every
shipped indicator.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.indicators.lake import add_events, build_lake, event_row, summarize
from vigie.indicators import Filters, IndicatorError, builtin_indicators, run
from vigie.warehouse.query import connect

CATALOGUE = builtin_indicators()


def rows(indicator_id: str, con: duckdb.DuckDBPyConnection, filters: Filters | None = None,
         **options: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = run(CATALOGUE[indicator_id], con, filters,
                                      **options).to_pylist()
    return found


def test_indicators_default_adoption(con: duckdb.DuckDBPyConnection) -> None:
    assert rows("adoption", con) == [
        {"service": "helpdesk", "population": "employee", "users": 1, "people": 2,
         "penetration": 1 / 2},
        {"service": "helpdesk", "population": "faculty", "users": 5, "people": 6,
         "penetration": 5 / 6},
        {"service": "helpdesk", "population": "student", "users": 1, "people": 11,
         "penetration": 1 / 11},
        {"service": "moodle", "population": "employee", "users": 0, "people": 2,
         "penetration": 0.0},
        {"service": "moodle", "population": "faculty", "users": 1, "people": 6,
         "penetration": 1 / 6},
        {"service": "moodle", "population": "student", "users": 7, "people": 11,
         "penetration": 7 / 11},
    ]


def test_indicators_default_adoption_in_september_uses_that_snapshot(
        con: duckdb.DuckDBPyConnection) -> None:
    september = Filters(start=date(2026, 9, 1), end=date(2026, 9, 30), population="student")
    assert rows("adoption", con, september) == [
        {"service": "helpdesk", "population": "student", "users": 1, "people": 10,
         "penetration": 1 / 10},
        {"service": "moodle", "population": "student", "users": 6, "people": 10,
         "penetration": 6 / 10},
    ]


def test_indicators_default_adoption_by_structure_and_device(
        con: duckdb.DuckDBPyConnection) -> None:
    phones = Filters(service="moodle", structure="SCI", device="smartphone")
    assert rows("adoption", con, phones) == [
        {"service": "moodle", "population": "faculty", "users": 0, "people": 4,
         "penetration": 0.0},
        {"service": "moodle", "population": "student", "users": 2, "people": 9,
         "penetration": 2 / 9},
    ]


def test_indicators_default_gaps(con: duckdb.DuckDBPyConnection) -> None:
    def seg(service: str, population: str, structure: str, label: str, users: int,
            people: int, rank: int) -> dict[str, Any]:
        return {"service": service, "population": population, "structure": structure,
                "structure_label": label, "users": users, "people": people,
                "penetration": users / people, "gap_rank": rank}

    # k = 2: segments of at least 2 people (student/LET and students without structure are 1).
    assert rows("gaps", con, k=2) == [
        seg("helpdesk", "student", "SCI", "Sciences", 0, 9, 1),
        seg("helpdesk", "employee", "ADM", "Administration", 1, 2, 2),
        seg("helpdesk", "faculty", "LET", "Lettres", 1, 2, 3),
        seg("helpdesk", "faculty", "SCI", "Sciences", 4, 4, 4),
        seg("moodle", "employee", "ADM", "Administration", 0, 2, 1),
        seg("moodle", "faculty", "LET", "Lettres", 0, 2, 2),
        seg("moodle", "faculty", "SCI", "Sciences", 1, 4, 3),
        seg("moodle", "student", "SCI", "Sciences", 7, 9, 4),
    ]
    # k = 5: only student/SCI (9 people) is large enough to be ranked.
    assert [(r["service"], r["structure"], r["gap_rank"]) for r in rows("gaps", con, k=5)] == [
        ("helpdesk", "SCI", 1), ("moodle", "SCI", 1)]
    # A study step keeps its people (E1: students of SCI) in the head counts and the users.
    assert rows("gaps", con, Filters(etape="E1"), k=2) == [
        seg("helpdesk", "student", "SCI", "Sciences", 0, 9, 1),
        seg("moodle", "student", "SCI", "Sciences", 7, 9, 1)]
    # A zone keeps the users seen from it, over whole head counts (no zone in the directory).
    assert rows("gaps", con, Filters(service="moodle", zone="outside"), k=2) == [
        seg("moodle", "employee", "ADM", "Administration", 0, 2, 1),
        seg("moodle", "faculty", "LET", "Lettres", 0, 2, 2),
        seg("moodle", "faculty", "SCI", "Sciences", 0, 4, 3),
        seg("moodle", "student", "SCI", "Sciences", 3, 9, 4)]


def test_indicators_default_devices(con: duckdb.DuckDBPyConnection) -> None:
    assert rows("devices", con) == [
        {"service": "helpdesk", "device": "desktop", "events": 7, "users": 6,
         "service_events": 8, "share": 7 / 8},
        {"service": "helpdesk", "device": "smartphone", "events": 1, "users": 1,
         "service_events": 8, "share": 1 / 8},
        {"service": "moodle", "device": "desktop", "events": 10, "users": 9,
         "service_events": 13, "share": 10 / 13},
        {"service": "moodle", "device": "other", "events": 1, "users": 0,
         "service_events": 13, "share": 1 / 13},
        {"service": "moodle", "device": "smartphone", "events": 2, "users": 2,
         "service_events": 13, "share": 2 / 13},
    ]


def test_indicators_default_place(con: duckdb.DuckDBPyConnection) -> None:
    assert [(r["service"], r["place"], r["zone"], r["events"], r["users"], r["share"])
            for r in rows("place", con)] == [
        ("helpdesk", "inside", "vpn", 1, 1, 1 / 8),
        ("helpdesk", "inside", "wired", 6, 6, 6 / 8),
        ("helpdesk", "outside", "outside", 1, 1, 1 / 8),
        ("moodle", "inside", "wifi", 6, 6, 6 / 13),
        ("moodle", "inside", "wired", 1, 1, 1 / 13),
        ("moodle", "outside", "outside", 5, 4, 5 / 13),
        ("moodle", "unknown", "unknown", 1, 0, 1 / 13),
    ]
    assert {r["service_events"] for r in rows("place", con, Filters(service="moodle"))} == {13}


def test_indicators_default_rhythm(con: duckdb.DuckDBPyConnection) -> None:
    assert [(r["service"], r["weekday"], r["hour"], r["events"], r["users"])
            for r in rows("rhythm", con)] == [
        ("helpdesk", 1, 9, 5, 5), ("helpdesk", 2, 9, 1, 1), ("helpdesk", 2, 16, 1, 1),
        ("helpdesk", 3, 11, 1, 1),
        ("moodle", 1, 10, 7, 7), ("moodle", 2, 9, 1, 1), ("moodle", 2, 14, 5, 3),
    ]


def test_indicators_default_daily_users(con: duckdb.DuckDBPyConnection) -> None:
    assert [tuple(r.values()) for r in rows("daily_users", con, Filters(service="helpdesk"))] == [
        ("helpdesk", date(2026, 9, 7), 1, False, False, 5, 5),
        ("helpdesk", date(2026, 9, 8), 2, False, False, 1, 1),
        ("helpdesk", date(2026, 10, 20), 2, False, True, 1, 1),
        ("helpdesk", date(2026, 11, 11), 3, True, False, 1, 1),
    ]
    moodle = rows("daily_users", con, Filters(service="moodle", end=date(2026, 9, 30)))
    assert [(r["day"], r["users"], r["events"]) for r in moodle] == [
        (date(2026, 9, 7), 7, 7), (date(2026, 9, 8), 3, 5)]


def test_indicators_default_study_steps(con: duckdb.DuckDBPyConnection) -> None:
    """E1: s01-s08, and s11 from 1 October (9 at most); E2: s09. Moodle's E1 users: s01-s06
    on 7 September, s01 and s02 again, s11 in October; no one of a step used the helpdesk
    (s10, who did, has none)."""
    assert [tuple(r.values()) for r in rows("study_steps", con)] == [
        ("helpdesk", "E1", 0, 9, 0.0), ("helpdesk", "E2", 0, 1, 0.0),
        ("moodle", "E1", 7, 9, 7 / 9), ("moodle", "E2", 0, 1, 0.0)]
    september = Filters(start=date(2026, 9, 1), end=date(2026, 9, 30), service="moodle")
    assert [tuple(r.values()) for r in rows("study_steps", con, september)] == [
        ("moodle", "E1", 6, 8, 6 / 8), ("moodle", "E2", 0, 1, 0.0)]
    outside = Filters(zone="outside", etape="E1")
    assert [tuple(r.values()) for r in rows("study_steps", con, outside)] == [
        ("helpdesk", "E1", 0, 9, 0.0), ("moodle", "E1", 3, 9, 3 / 9)]


def test_indicators_default_strengths(con: duckdb.DuckDBPyConnection) -> None:
    assert rows("strengths", con) == [
        {"population": "faculty", "service": "helpdesk", "users": 5, "service_rank": 1},
        {"population": "student", "service": "moodle", "users": 7, "service_rank": 1},
    ]
    assert [tuple(r.values()) for r in rows("strengths", con, k=1)] == [
        ("employee", "helpdesk", 1, 1),
        ("faculty", "helpdesk", 5, 1), ("faculty", "moodle", 1, 2),
        ("student", "moodle", 7, 1), ("student", "helpdesk", 1, 2),
        ("unknown", "moodle", 1, 1),
    ]


def test_indicators_default_data_quality(con: duckdb.DuckDBPyConnection) -> None:
    assert rows("data_quality", con) == [
        {"source": "cas", "events": 13, "anonymous_events": 1, "unknown_events": 2,
         "unknown_share": 2 / 13, "unknown_people": 1, "people_without_structure": 0,
         "students_without_etape": 0, "people_in_unknown_structure": 0,
         "non_students_with_etape": 0},
        {"source": "helpdesk", "events": 8, "anonymous_events": 0, "unknown_events": 0,
         "unknown_share": 0.0, "unknown_people": 0, "people_without_structure": 1,
         "students_without_etape": 1, "people_in_unknown_structure": 0,
         "non_students_with_etape": 0},
    ]


def test_indicators_default_data_quality_of_a_segment(con: duckdb.DuckDBPyConnection) -> None:
    """From outside (zone): x01's two events (unknown) and the anonymous one is not outside;
    on smartphones: s01 and s02 on Moodle, s10 on the helpdesk (no structure, no étape)."""
    assert [(r["source"], r["events"], r["unknown_events"], r["unknown_people"])
            for r in rows("data_quality", con, Filters(zone="outside"))] == [
        ("cas", 5, 2, 1), ("helpdesk", 1, 0, 0)]
    assert [(r["source"], r["events"], r["people_without_structure"],
             r["students_without_etape"])
            for r in rows("data_quality", con, Filters(device="smartphone"))] == [
        ("cas", 2, 0, 0), ("helpdesk", 1, 1, 1)]


@pytest.mark.parametrize("summarized", [False, True])
def test_indicators_default_data_quality_badly_assigned_or_categorized(
        tmp_path: Path, summarized: bool) -> None:
    """An employee with a study step (badly categorized), twice; a teacher assigned to a
    structure code `ou=structures` does not describe (badly assigned); an unknown account
    with a stray study step, which is counted as unknown only."""
    lake = build_lake(tmp_path / "lake")
    day = date(2026, 11, 12)
    employee = event_row("helpdesk", day, 10, "e02", "wired", "desktop")
    teacher = event_row("helpdesk", day, 11, "f06", "wired", "desktop")
    stranger = event_row("helpdesk", day, 12, "x02", "outside", "desktop")
    add_events(lake, "helpdesk", "2026-11", [
        {**employee, "etape": "E1"}, {**employee, "etape": "E1"},
        {**teacher, "structure": "XYZ", "structure_label": None},
        {**stranger, "etape": "E9"}])
    found = rows("data_quality", connect(summarize(lake) if summarized else lake))
    assert [(r["source"], r["events"], r["unknown_people"], r["people_in_unknown_structure"],
             r["non_students_with_etape"]) for r in found] == [
        ("cas", 13, 1, 0, 0), ("helpdesk", 12, 1, 1, 1)]


def test_indicators_default_quarantine(con: duckdb.DuckDBPyConnection) -> None:
    assert [tuple(r.values()) for r in rows("quarantine", con)] == [
        ("cas", "does not match format cas_servicestats", 2, 1),
        ("cas", "unreadable time (expected %Y-%m-%d %H:%M:%S)", 1, 1),
        ("helpdesk", "not valid UTF-8 text (check the source encoding)", 1, 1),
    ]


def test_indicators_default_quarantine_of_a_lake_without_bad_lines(tmp_path: Any) -> None:
    lake = build_lake(tmp_path / "lake")
    for part in (lake / "quarantine").rglob("*.parquet"):
        part.unlink()
    assert rows("quarantine", connect(lake)) == []


def test_indicators_engine_refuses_a_filter_the_indicator_ignores(
        con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(IndicatorError, match="'quarantine' cannot be filtered by service"):
        rows("quarantine", con, Filters(service="moodle"))
    assert len(rows("quarantine", con, Filters(service="moodle"), strict=False)) == 3


def test_indicators_filters_reject_a_reversed_period() -> None:
    with pytest.raises(ValueError, match="starts"):
        Filters(start=date(2026, 10, 1), end=date(2026, 9, 1))


def test_indicators_source_filter_keeps_the_named_sources(
        con: duckdb.DuckDBPyConnection) -> None:
    """`source` takes one source or several separated by commas: in the small lake, Moodle is
    seen through CAS (source `cas`) and the helpdesk through its own web server's log."""
    by_service = {name: rows("daily_users", con, Filters(service=name))
                  for name in ("moodle", "helpdesk")}
    assert rows("daily_users", con, Filters(source="cas")) == by_service["moodle"]
    assert rows("daily_users", con, Filters(source="helpdesk")) == by_service["helpdesk"]
    assert rows("daily_users", con, Filters(source="cas,helpdesk")) == rows("daily_users", con)
    assert rows("daily_users", con, Filters(source="idp")) == []
    assert rows("daily_users", con, Filters(source="ca")) == []  # whole names only
    students = Filters(source="cas", population="student")
    assert [(r["service"], r["population"], r["users"]) for r in
            rows("strengths", con, students, k=1)] == [("moodle", "student", 7)]
    assert {r["service"] for r in rows("devices", con, Filters(source="helpdesk"))} == {
        "helpdesk"}


def test_indicators_default_daily_events(con: duckdb.DuckDBPyConnection) -> None:
    """The events of `daily_users`, anonymous ones included, under any filter."""
    assert [tuple(r.values()) for r in rows("daily_events", con, Filters(service="moodle"))] == [
        ("moodle", date(2026, 9, 7), 1, False, False, 7),
        ("moodle", date(2026, 9, 8), 2, False, False, 5),
        ("moodle", date(2026, 10, 20), 2, False, True, 1),
    ]
    for filters in (Filters(), Filters(source="helpdesk", start=date(2026, 9, 8)),
                    Filters(population="student", zone="outside")):
        assert rows("daily_events", con, filters) == [
            {k: v for k, v in r.items() if k != "users"}
            for r in rows("daily_users", con, filters)], filters
