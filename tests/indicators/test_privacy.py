"""Small-cell suppression (k boundary, ratios, tied counts) and French rendering."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from vigie.indicators import builtin_indicators, format_fr, publish, render_fr, suppress
from vigie.indicators.privacy import format_number_fr, format_percent_fr, suppressed_label

CATALOGUE = builtin_indicators()
N = "\u202f"


def test_indicators_privacy_adoption_suppresses_people_below_k_and_their_ratios(
        con: duckdb.DuckDBPyConnection) -> None:
    published = publish(CATALOGUE["adoption"], con, k=5)
    assert published.column_names == [
        "service", "population", "users", "users_suppressed", "people", "people_suppressed",
        "penetration", "penetration_suppressed"]
    got = [(r["service"], r["population"], r["users"], r["people"], r["penetration"],
            r["penetration_suppressed"]) for r in published.to_pylist()]
    assert got == [
        ("helpdesk", "employee", None, None, None, True),   # 1 of 2: both withheld
        ("helpdesk", "faculty", 5, 6, 5 / 6, False),        # 5 = k is published
        ("helpdesk", "student", None, 11, None, True),      # 1 user withheld: the rate too
        ("moodle", "employee", None, None, None, True),     # 0 is below k as well
        ("moodle", "faculty", None, 6, None, True),
        ("moodle", "student", 7, 11, 7 / 11, False),
    ]


def test_indicators_privacy_k_boundary() -> None:
    indicator = CATALOGUE["strengths"]
    table = pa.table({"population": ["a", "b", "c", "d"], "service": ["x"] * 4,
                      "users": pa.array([3, 4, 5, None], pa.int64()),
                      "service_rank": pa.array([1, 1, 1, 1], pa.int64())})
    out = suppress(table, indicator, k=5)
    assert out["users"].to_pylist() == [None, None, 5, None]
    assert out["users_suppressed"].to_pylist() == [True, True, False, False]  # NULL: no data
    assert suppress(table, indicator, k=4)["users"].to_pylist() == [None, 4, 5, None]
    assert suppress(table, indicator, k=1)["users_suppressed"].to_pylist() == [False] * 4
    with pytest.raises(ValueError, match="at least 1"):
        suppress(table, indicator, k=0)


def test_indicators_privacy_ratio_is_suppressed_when_its_denominator_is() -> None:
    indicator = CATALOGUE["adoption"]
    table = pa.table({"service": ["x", "y"], "population": ["p", "p"],
                      "users": pa.array([8, 9], pa.int64()),
                      "people": pa.array([3, 90], pa.int64()),
                      "penetration": [8 / 3, 0.1]})
    out = suppress(table, indicator, k=5)
    assert out["penetration"].to_pylist() == [None, 0.1]
    assert out["penetration_suppressed"].to_pylist() == [True, False]
    assert out["users"].to_pylist() == [8, 9]


def test_indicators_privacy_counts_tied_to_people_are_withheld_with_them(
        con: duckdb.DuckDBPyConnection) -> None:
    published = publish(CATALOGUE["rhythm"], con, k=5).to_pylist()
    moodle_tuesday = [r for r in published
                      if (r["service"], r["weekday"], r["hour"]) == ("moodle", 2, 14)]
    assert moodle_tuesday == [{"service": "moodle", "weekday": 2, "hour": 14, "events": None,
                               "events_suppressed": True, "users": None,
                               "users_suppressed": True}]


def test_indicators_privacy_counts_of_events_alone_are_not_suppressed(
        con: duckdb.DuckDBPyConnection) -> None:
    published = publish(CATALOGUE["devices"], con, k=5).to_pylist()
    phone = next(r for r in published if (r["service"], r["device"]) == ("moodle", "smartphone"))
    assert (phone["events"], phone["users_suppressed"], phone["share"]) == (2, True, 2 / 13)


def test_indicators_privacy_format_fr() -> None:
    assert format_number_fr(2898) == f"2{N}898"
    assert format_number_fr(1234567) == f"1{N}234{N}567"
    assert format_number_fr(311) == "311"
    assert format_number_fr(-1500) == f"-1{N}500"
    assert format_percent_fr(0.107) == f"10,7{N}%"
    assert format_percent_fr(311 / 2898) == f"10,7{N}%"
    assert format_fr(3, "people", suppressed=True) == suppressed_label() == f"<{N}5"
    assert format_fr(None, "ratio", suppressed=True, k=10) == f"<{N}10"
    assert format_fr(None, "people") == "–"
    assert format_fr(44521, "count") == f"44{N}521"
    assert format_fr(2.5, "value") == "2,50"
    assert format_fr(3.0, "value") == "3"


def test_indicators_privacy_render_fr(con: duckdb.DuckDBPyConnection) -> None:
    indicator = CATALOGUE["adoption"]
    rendered = render_fr(publish(indicator, con, k=5), indicator, k=5)
    assert rendered[1] == {"service": "helpdesk", "population": "faculty", "users": "5",
                           "people": "6", "penetration": f"83,3{N}%"}
    assert rendered[0]["users"] == rendered[0]["penetration"] == f"<{N}5"
