"""Trends and launch follow-up (`weekly_users`, `year_overlay`, `launch`) on a lake of their own.

The small lake of `lake.py` holds one autumn; these indicators compare a week with the week a
year earlier and an academic year with the one before, so they get a lake spanning three
academic years, written by hand like the other and with every figure computable on paper.

Directory: snapshot 2024-09-01 holds the students s01-s08 (SCI, E1) and the faculty f01-f04
(LET): 12 people; snapshot 2026-09-16 adds s09 (SCI, E1) and s10 (LET, E2): 14; snapshot
2026-09-21 drops s10: 13. x01 is an account missing from the directory.

Events (one each, wifi desktop unless said), with ISO weeks and academic days (days from the
Monday of the week of 1 September: 2025-09-01 is that Monday, 2026-08-31 the next one):

    ent  2024-09-09 Mon  s01                   2024-W37   (academic year 2024-2025)
         2025-09-08 Mon  s01-s05               2025-W37   2025-2026 day 7
         2025-09-10 Wed  s01, s06              2025-W37             day 9
         2025-12-29 Mon  s01-s04               2026-W01             day 119
         2026-08-31 Mon  s01, s02              2026-W36             day 364
         2026-09-01 Tue  s02-s04               2026-W36   2026-2027 day 1
         2026-09-07 Mon  s01-s06               2026-W37             day 7
         2026-09-09 Wed  s01; s07 outside smartphone       W37      day 9
         2026-09-13 Sun  s08                   2026-W37             day 13
         2026-09-14 Mon  s01-s03               2026-W38             day 14
         2026-12-28 Mon  s01-s05               2026-W53             day 119
         2027-01-01 Fri  s06                   2026-W53             day 123
         2027-01-04 Mon  s01-s05, f01          2027-W01             day 126
    pix  2026-09-10 Thu  s01 (a pilot, before the launch on 2026-09-14)
         2026-09-14 Mon  s01-s03
         2026-09-15 Tue  s02, s04, x01
         2026-09-16 Wed  one anonymous event
         2026-09-17 Thu  s05, f01
         2026-09-21 Mon  s09, s01
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.indicators.lake import DIRECTORY_SCHEMA, EVENT_SCHEMA, pseudo, summarize
from tests.spark import local_spark
from vigie.indicators import Filters, builtin_indicators, publish, run
from vigie.warehouse.query import connect

CATALOGUE = builtin_indicators()
PARIS = ZoneInfo("Europe/Paris")
SNAPSHOTS = (date(2024, 9, 1), date(2026, 9, 16), date(2026, 9, 21))


def _logins(prefix: str, first: int, last: int) -> list[str]:
    return [f"{prefix}{i:02}" for i in range(first, last + 1)]


#: (service, day, logins (None: anonymous), zone, device)
EVENTS: list[tuple[str, date, list[str | None], str, str]] = [
    ("ent", date(2024, 9, 9), ["s01"], "wifi", "desktop"),
    ("ent", date(2025, 9, 8), [*_logins("s", 1, 5)], "wifi", "desktop"),
    ("ent", date(2025, 9, 10), ["s01", "s06"], "wifi", "desktop"),
    ("ent", date(2025, 12, 29), [*_logins("s", 1, 4)], "wifi", "desktop"),
    ("ent", date(2026, 8, 31), ["s01", "s02"], "wifi", "desktop"),
    ("ent", date(2026, 9, 1), [*_logins("s", 2, 4)], "wifi", "desktop"),
    ("ent", date(2026, 9, 7), [*_logins("s", 1, 6)], "wifi", "desktop"),
    ("ent", date(2026, 9, 9), ["s01"], "wifi", "desktop"),
    ("ent", date(2026, 9, 9), ["s07"], "outside", "smartphone"),
    ("ent", date(2026, 9, 13), ["s08"], "wifi", "desktop"),
    ("ent", date(2026, 9, 14), [*_logins("s", 1, 3)], "wifi", "desktop"),
    ("ent", date(2026, 12, 28), [*_logins("s", 1, 5)], "wifi", "desktop"),
    ("ent", date(2027, 1, 1), ["s06"], "wifi", "desktop"),
    ("ent", date(2027, 1, 4), [*_logins("s", 1, 5), "f01"], "wifi", "desktop"),
    ("pix", date(2026, 9, 10), ["s01"], "wifi", "desktop"),
    ("pix", date(2026, 9, 14), [*_logins("s", 1, 3)], "wifi", "desktop"),
    ("pix", date(2026, 9, 15), ["s02", "s04", "x01"], "wifi", "desktop"),
    ("pix", date(2026, 9, 16), [None], "unknown", "other"),
    ("pix", date(2026, 9, 17), ["s05", "f01"], "wifi", "desktop"),
    ("pix", date(2026, 9, 21), ["s09", "s01"], "wifi", "desktop"),
]


def _directory(snapshot: date) -> dict[str, tuple[str, str, str | None]]:
    """login -> (population, structure, etape) in the snapshot taken on `snapshot`."""
    people: dict[str, tuple[str, str, str | None]] = {
        **{login: ("student", "SCI", "E1") for login in _logins("s", 1, 8)},
        **{login: ("faculty", "LET", None) for login in _logins("f", 1, 4)},
    }
    if snapshot >= date(2026, 9, 16):
        people["s09"] = ("student", "SCI", "E1")
    if snapshot == date(2026, 9, 16):
        people["s10"] = ("student", "LET", "E2")
    return people


def _event(service: str, day: date, login: str | None, zone: str, device: str) -> dict[str, Any]:
    """One event enriched as ingestion would: with the snapshot valid on its day."""
    people = _directory(max(s for s in SNAPSHOTS if s <= day))
    if login is None:
        population, structure, etape = "anonymous", None, None
    else:
        population, structure, etape = people.get(login, ("unknown", None, None))
    first_year = day.year if day.month >= 9 else day.year - 1
    local = datetime(day.year, day.month, day.day, 10, 30, tzinfo=PARIS)
    return {
        "ts": local.astimezone(ZoneInfo("UTC")), "day": day, "source": service,
        "format": "apache_combined", "action": "GET", "status": 200,
        "user_pseudo": None if login is None else pseudo(login), "population": population,
        "affiliations": [population] if login in people else None, "structure": structure,
        "structure_label": structure, "etape": etape, "cursus_year": "L1" if etape else None,
        "zone": zone, "device": device, "browser": "Firefox", "os": "Linux",
        "weekday": day.isoweekday(), "hour": 10, "is_public_holiday": False,
        "is_school_holiday": False, "academic_year": f"{first_year}-{first_year + 1}",
    }


def _write(rows: list[dict[str, Any]], schema: pa.Schema, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def build_trends_lake(lake: Path, *, summarized: bool) -> Path:
    """Writes the lake described above; `summarized`: with its daily table, compacted."""
    partitions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for service, day, logins, zone, device in EVENTS:
        for login in logins:
            partitions[service, day.strftime("%Y-%m")].append(
                _event(service, day, login, zone, device))
    for (service, month), rows in partitions.items():
        _write(rows, EVENT_SCHEMA,
               lake / "events" / f"service={service}" / f"month={month}" / "part-0.parquet")
    for snapshot in SNAPSHOTS:
        rows = [{"user_pseudo": pseudo(login), "population": population,
                 "affiliations": [population], "structure": structure,
                 "structure_label": structure, "structure_parent": None, "etape": etape,
                 "diplome": None, "cursus_year": "L1" if etape else None}
                for login, (population, structure, etape) in _directory(snapshot).items()]
        _write(rows, DIRECTORY_SCHEMA,
               lake / "directory" / f"snapshot_date={snapshot}" / "part-0.parquet")
    return summarize(lake) if summarized else lake


@pytest.fixture(scope="module")
def trends_lakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The lake without then with its summaries (read-only)."""
    return {variant: build_trends_lake(tmp_path_factory.mktemp("trends") / "lake",
                                       summarized=variant == "summaries")
            for variant in ("tables", "summaries")}


@pytest.fixture(params=["tables", "summaries"])
def trends(request: pytest.FixtureRequest,
           trends_lakes: dict[str, Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection to the lake, without then with its summaries: same figures."""
    connection = connect(trends_lakes[request.param])
    yield connection
    connection.close()


def rows(indicator_id: str, con: duckdb.DuckDBPyConnection, filters: Filters | None = None,
         **options: Any) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in run(CATALOGUE[indicator_id], con, filters,
                                           **options).to_pylist()]


def published(indicator_id: str, con: duckdb.DuckDBPyConnection,
              filters: Filters | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = publish(CATALOGUE[indicator_id], con, filters, k=5).to_pylist()
    return found


def test_trends_lake_has_the_calendar_the_indicators_rely_on(
        trends: duckdb.DuckDBPyConnection) -> None:
    """`academic_year` starts on 1 September and `weekday` is ISO, as in the lake's contract."""
    assert trends.sql("SELECT DISTINCT day, weekday, academic_year FROM daily "
                      "WHERE day IN ('2026-08-31', '2026-09-01') ORDER BY day").fetchall() == [
        (date(2026, 8, 31), 1, "2025-2026"), (date(2026, 9, 1), 2, "2026-2027")]


def test_indicators_default_weekly_users(trends: duckdb.DuckDBPyConnection) -> None:
    # (week_start, iso_year, iso_week, users, previous week, change, a year earlier, change)
    assert [r[1:] for r in rows("weekly_users", trends, Filters(service="ent"))] == [
        (date(2024, 9, 9), 2024, 37, 1, None, None, None, None),
        (date(2025, 9, 8), 2025, 37, 6, None, None, 1, 5.0),
        # 29 December 2025 starts week 1 of ISO year 2026 (its Thursday is 1 January).
        (date(2025, 12, 29), 2026, 1, 4, None, None, None, None),
        (date(2026, 8, 31), 2026, 36, 4, None, None, None, None),
        # s01-s08 over the week, not 6 + 2 + 1 summed over its days.
        (date(2026, 9, 7), 2026, 37, 8, 4, 1.0, 6, 2 / 6),
        (date(2026, 9, 14), 2026, 38, 3, 8, -5 / 8, None, None),
        # 1 January 2027 is in week 53 of 2026, which 2025 does not have.
        (date(2026, 12, 28), 2026, 53, 6, None, None, None, None),
        # A year earlier is week 1 of 2026, 371 days before (2026 has 53 weeks).
        (date(2027, 1, 4), 2027, 1, 6, 6, 0.0, 4, 0.5),
    ]


def test_indicators_default_weekly_users_counts_whole_weeks_meeting_the_period(
        trends: duckdb.DuckDBPyConnection) -> None:
    """A period from Wednesday 2 to Thursday 10 September meets two weeks, each counted over
    its seven days (s01 on Monday 31 August, s08 on Sunday 13 September); the week before and
    the week a year earlier are read outside the period."""
    period = Filters(start=date(2026, 9, 2), end=date(2026, 9, 10), service="ent")
    assert [r[1:] for r in rows("weekly_users", trends, period)] == [
        (date(2026, 8, 31), 2026, 36, 4, None, None, None, None),
        (date(2026, 9, 7), 2026, 37, 8, 4, 1.0, 6, 2 / 6),
    ]


def test_indicators_default_weekly_users_filters(trends: duckdb.DuckDBPyConnection) -> None:
    phones = Filters(service="ent", zone="outside", device="smartphone")
    assert rows("weekly_users", trends, phones) == [
        ("ent", date(2026, 9, 7), 2026, 37, 1, None, None, None, None)]
    faculty = Filters(population="faculty", structure="LET")
    assert [r[:5] for r in rows("weekly_users", trends, faculty)] == [
        ("ent", date(2027, 1, 4), 2027, 1, 1), ("pix", date(2026, 9, 14), 2026, 38, 1)]
    assert [r[:5] for r in rows("weekly_users", trends, Filters(etape="E2"))] == []


def test_indicators_privacy_weekly_changes_of_withheld_counts_are_withheld(
        trends: duckdb.DuckDBPyConnection) -> None:
    def cells(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[c] for c in ("week_start", "users", "previous_week_users",
                                      "week_change", "week_change_suppressed",
                                      "last_year_users", "year_change",
                                      "year_change_suppressed"))

    got = [cells(r) for r in published("weekly_users", trends, Filters(service="ent"))]
    assert got[4:] == [
        # 4 people the week before: withheld, and the change computed from it too.
        (date(2026, 9, 7), 8, None, None, True, 6, 2 / 6, False),
        (date(2026, 9, 14), None, 8, None, True, None, None, True),
        (date(2026, 12, 28), 6, None, None, False, None, None, False),  # no data: not flagged
        (date(2027, 1, 4), 6, 6, 0.0, False, None, None, True),
    ]


def test_indicators_default_year_overlay(trends: duckdb.DuckDBPyConnection) -> None:
    # The lake's last academic year is 2026-2027: 2024-2025 is left out.
    assert [r[1:5] for r in rows("year_overlay", trends, Filters(service="ent"))] == [
        ("2025-2026", 7, date(2025, 9, 8), 5),
        ("2025-2026", 9, date(2025, 9, 10), 2),
        ("2025-2026", 119, date(2025, 12, 29), 4),
        ("2025-2026", 364, date(2026, 8, 31), 2),
        # 1 September 2026 is a Tuesday: day 1, and both years' second Mondays are day 7.
        ("2026-2027", 1, date(2026, 9, 1), 3),
        ("2026-2027", 7, date(2026, 9, 7), 6),
        ("2026-2027", 9, date(2026, 9, 9), 2),
        ("2026-2027", 13, date(2026, 9, 13), 1),
        ("2026-2027", 14, date(2026, 9, 14), 3),
        ("2026-2027", 119, date(2026, 12, 28), 5),
        ("2026-2027", 123, date(2027, 1, 1), 1),
        ("2026-2027", 126, date(2027, 1, 4), 6),
    ]


def test_indicators_default_year_overlay_filters_and_suppression(
        trends: duckdb.DuckDBPyConnection) -> None:
    assert rows("year_overlay", trends, Filters(device="smartphone")) == [
        ("ent", "2026-2027", 9, date(2026, 9, 9), 1, 1)]
    # The years compared stay the lake's last two under any filter.
    assert rows("year_overlay", trends, Filters(population="faculty")) == [
        ("ent", "2026-2027", 126, date(2027, 1, 4), 1, 1),
        ("pix", "2026-2027", 17, date(2026, 9, 17), 1, 1)]
    got = [(r["day"], r["users"], r["events"], r["events_suppressed"])
           for r in published("year_overlay", trends, Filters(service="ent"))[:2]]
    assert got == [(date(2025, 9, 8), 5, 5, False), (date(2025, 9, 10), None, None, True)]


def test_indicators_default_launch(trends: duckdb.DuckDBPyConnection) -> None:
    """From the launch on 14 September: s01's pilot use on the 10th is before it, x01 is in no
    head count, the anonymous event on the 16th adds nobody; 14 people from the 16th (s09,
    s10), and still 14 after s10 leaves on the 21st (the largest head count so far)."""
    launched = Filters(start=date(2026, 9, 14), service="pix")
    assert rows("launch", trends, launched) == [
        ("pix", date(2026, 9, 14), 3, 12, 3 / 12),
        ("pix", date(2026, 9, 15), 4, 12, 4 / 12),
        ("pix", date(2026, 9, 16), 4, 14, 4 / 14),
        ("pix", date(2026, 9, 17), 6, 14, 6 / 14),
        ("pix", date(2026, 9, 21), 7, 14, 7 / 14),
        # Every later day of the lake (the ENT's), flat.
        ("pix", date(2026, 12, 28), 7, 14, 7 / 14),
        ("pix", date(2027, 1, 1), 7, 14, 7 / 14),
        ("pix", date(2027, 1, 4), 7, 14, 7 / 14),
    ]
    # The last day's users are those `adoption` counts over the same period.
    adoption = run(CATALOGUE["adoption"], trends, launched).to_pylist()
    assert sum(r["users"] for r in adoption) == 7


def test_indicators_default_launch_without_start_and_by_population(
        trends: duckdb.DuckDBPyConnection) -> None:
    # Without a start, the curve starts on the service's first day (the 13th is the ENT's).
    assert [r[1:4] for r in rows("launch", trends, Filters(service="pix"))][:4] == [
        (date(2026, 9, 10), 1, 12), (date(2026, 9, 13), 1, 12), (date(2026, 9, 14), 3, 12),
        (date(2026, 9, 15), 4, 12)]
    faculty = Filters(start=date(2026, 9, 14), service="pix", population="faculty")
    assert rows("launch", trends, faculty)[:5] == [
        ("pix", date(2026, 9, 14), 0, 4, 0.0), ("pix", date(2026, 9, 15), 0, 4, 0.0),
        ("pix", date(2026, 9, 16), 0, 4, 0.0), ("pix", date(2026, 9, 17), 1, 4, 1 / 4),
        ("pix", date(2026, 9, 21), 1, 4, 1 / 4)]


def test_indicators_privacy_launch_withholds_the_first_days(
        trends: duckdb.DuckDBPyConnection) -> None:
    launched = Filters(start=date(2026, 9, 14), service="pix")
    got = [(r["day"], r["users"], r["people"], r["penetration"], r["penetration_suppressed"])
           for r in published("launch", trends, launched)[:4]]
    assert got == [
        (date(2026, 9, 14), None, 12, None, True),
        (date(2026, 9, 15), None, 12, None, True),
        (date(2026, 9, 16), None, 14, None, True),
        (date(2026, 9, 17), 6, 14, 6 / 14, False),
    ]


# -- Spark ------------------------------------------------------------------------------------

TRENDS = ("weekly_users", "year_overlay", "launch")
#: Every filter runs on Spark in test_spark.py; here, years and weeks apart.
SPARK_FILTERS = [
    Filters(),
    Filters(start=date(2026, 9, 2), end=date(2027, 1, 3), population="student",
            structure="SCI", device="desktop"),
]


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    with local_spark("vigie-trends-tests") as spark:
        yield spark


def test_indicators_spark_gives_duckdb_trends(spark_session: Any,
                                              trends_lakes: dict[str, Path]) -> None:
    """Week numbers, date arithmetic and divisions agree on both engines, across years (on
    the compacted lake only: test_spark.py runs both ways, and each Spark query takes seconds).
    """
    from vigie.indicators.spark import register_views, run_spark

    lake = trends_lakes["summaries"]
    session = spark_session.newSession()
    register_views(session, lake)
    con = connect(lake)
    for indicator_id in TRENDS:
        for filters in SPARK_FILTERS:
            expected = run(CATALOGUE[indicator_id], con, filters, strict=False)
            got = run_spark(CATALOGUE[indicator_id], session, lake, filters, strict=False,
                            register=False)
            assert got.schema == expected.schema, indicator_id
            assert got.to_pylist() == expected.to_pylist(), (indicator_id, filters)
            assert expected.num_rows > 0, (indicator_id, filters)
