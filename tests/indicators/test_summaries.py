"""Indicators read a summary of the lake whenever it gives the same rows as the tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from vigie.indicators import Filters, builtin_indicators, run
from vigie.indicators.engine import plan_for
from vigie.indicators.filters import NO_SUMMARIES, Plan
from vigie.warehouse.query import connect

CATALOGUE = builtin_indicators()
ALL = frozenset({"last_seen", "first_seen", "last_seen_hours", "daily_events", "service_days",
                 "service_hours", "service_weeks", "source_hours"})
LAST_DAY = date(2026, 11, 11)  # of the small lake
COMPACTED = Plan(ALL, LAST_DAY)


def expanded(indicator_id: str, filters: Filters, plan: Plan = COMPACTED) -> str:
    return CATALOGUE[indicator_id].expanded(filters, plan)


def test_indicators_summaries_plan_of_each_lake(small_lake: Path, summarized_lake: Path) -> None:
    assert plan_for(connect(summarized_lake), CATALOGUE["adoption"]) == COMPACTED
    assert plan_for(connect(summarized_lake), CATALOGUE["daily_users"]) == Plan(ALL)  # no last day
    assert plan_for(connect(small_lake), CATALOGUE["adoption"]) == NO_SUMMARIES


def test_indicators_summaries_people_since_a_day_up_to_the_last_one() -> None:
    for filters in (Filters(), Filters(start=date(2026, 9, 1)),
                    Filters(start=date(2026, 9, 1), end=LAST_DAY),
                    Filters(end=date(2026, 12, 31), zone="wifi", device="desktop")):
        assert "FROM last_seen WHERE" in expanded("adoption", filters), filters
    # A period ending before the lake's last day: people are counted from the daily table.
    sql = expanded("adoption", Filters(start=date(2026, 9, 1), end=date(2026, 9, 30)))
    assert "FROM last_seen" not in sql and "FROM daily WHERE" in sql
    assert "FROM last_seen" not in expanded("adoption", Filters(), Plan(ALL))  # last day unknown


def test_indicators_summaries_without_a_filter_column_are_computed() -> None:
    assert "FROM service_days WHERE" in expanded("daily_users", Filters(service="ent"))
    sql = expanded("daily_users", Filters(population="student"))
    assert "FROM service_days" not in sql and "FROM daily WHERE" in sql
    sql = expanded("rhythm", Filters(device="smartphone"))
    assert "FROM last_seen_hours" not in sql and "FROM service_hours" not in sql
    # Any period suits a summary by day; the events stay on it under every filter.
    assert "FROM daily_events WHERE" in expanded(
        "devices", Filters(start=date(2026, 9, 1), end=date(2026, 9, 30), etape="E1"))
    assert "FROM daily_events WHERE" not in expanded("devices", Filters(), NO_SUMMARIES)


def test_indicators_summaries_weeks_whole_whatever_the_period() -> None:
    """`service_weeks` is read for any period (whole weeks, the indicator picks its own), and
    computed from the daily rows of those weeks under a filter it has no column for."""
    for filters in (Filters(), Filters(start=date(2026, 9, 3), end=date(2026, 9, 30)),
                    Filters(service="ent")):
        assert "FROM service_weeks WHERE" in expanded("weekly_users", filters), filters
    sql = expanded("weekly_users", Filters(start=date(2026, 9, 3), zone="wifi"))
    assert "FROM service_weeks" not in sql and "CAST($start AS DATE) - 377" in sql


def test_indicators_summaries_first_days_for_periods_of_whole_months() -> None:
    """`first_seen` keeps a person's first day of each month: read for periods of whole
    months (or running to the lake's last day), computed from the daily rows otherwise."""
    for filters in (Filters(), Filters(start=date(2026, 9, 1)),
                    Filters(start=date(2026, 9, 1), end=date(2026, 10, 31)),
                    Filters(end=date(2026, 11, 30), structure="S1"),
                    Filters(start=date(2026, 11, 1), end=LAST_DAY, device="desktop")):
        assert "FROM first_seen WHERE" in expanded("launch", filters), filters
    for filters in (Filters(start=date(2026, 9, 7)), Filters(end=date(2026, 10, 15))):
        sql = expanded("launch", filters)
        assert "FROM first_seen" not in sql and "FROM daily WHERE" in sql, filters
    # Whether the period runs to the lake's last day is unknown without it.
    assert "FROM first_seen" not in expanded("launch", Filters(end=LAST_DAY), Plan(ALL))


FILTERS = [
    Filters(), Filters(start=date(2026, 9, 8)), Filters(end=date(2026, 9, 30)),
    Filters(start=date(2026, 9, 1), end=date(2026, 10, 31), zone="wifi"),
    Filters(start=date(2026, 10, 1), end=LAST_DAY, service="helpdesk"),
    Filters(population="student", zone="outside"), Filters(device="desktop", etape="E1"),
]


@pytest.mark.parametrize("indicator_id", sorted(CATALOGUE))
def test_indicators_summaries_give_the_tables_results(summarized_lake: Path,
                                                      indicator_id: str) -> None:
    with_summaries = connect(summarized_lake)
    tables_only = connect(summarized_lake)
    tables_only.execute("DELETE FROM lake_summaries")
    for filters in FILTERS:
        expected = run(CATALOGUE[indicator_id], tables_only, filters, k=2, strict=False)
        got = run(CATALOGUE[indicator_id], with_summaries, filters, k=2, strict=False)
        assert got.to_pylist() == expected.to_pylist(), filters
