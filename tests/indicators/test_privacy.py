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


TOTALS_META = """
id = "segments"
grain = "one row per service and population, with totals"
dimensions = ["service", "population"]
totals = ["service", "population"]
chart = "table"
unit = "people"
title = { fr = "Segments", en = "Segments" }
description = { fr = "Essai.", en = "Test." }

[[measures]]
column = "users"
kind = "people"
label = { fr = "Utilisateurs", en = "Users" }

[[measures]]
column = "events"
kind = "count"
suppressed_with = ["users"]
label = { fr = "Accès", en = "Events" }

[[measures]]
column = "share"
kind = "ratio"
numerator = "users"
denominator = "events"
label = { fr = "Part", en = "Share" }
"""
TOTALS_SQL = ("SELECT service, population, count(DISTINCT user_pseudo) AS users, "
              "count(*) AS events, 1.0 AS share FROM events GROUP BY CUBE (service, population)")


def _segments(cells: dict[tuple[str | None, str | None], int]) -> pa.Table:
    keys = list(cells)
    return pa.table({"service": [s for s, _ in keys], "population": [p for _, p in keys],
                     "users": pa.array(list(cells.values()), pa.int64()),
                     "events": pa.array([10 * v for v in cells.values()], pa.int64()),
                     "share": [0.1] * len(keys)})


def _withheld(out: pa.Table) -> set[tuple[str | None, str | None]]:
    return {(r["service"], r["population"]) for r in out.to_pylist() if r["users_suppressed"]}


def _recoverable_is_safe(out: pa.Table, cells: dict[tuple[str | None, str | None], int],
                         k: int) -> None:
    """In every group with a published total, total − published parts covers no withheld
    part or at least k people."""
    hidden = _withheld(out)
    for axis in (0, 1):
        for key in {c[1 - axis] for c in cells}:
            group = {c: v for c, v in cells.items() if c[1 - axis] == key}
            total = [c for c in group if c[axis] is None]
            parts = [c for c in group if c[axis] is not None]
            if len(total) != 1 or total[0] in hidden or not set(parts) & hidden:
                continue
            assert cells[total[0]] - sum(group[c] for c in parts if c not in hidden) >= k


def test_indicators_privacy_totals_withhold_the_next_smallest_part() -> None:
    from vigie.indicators.catalogue import parse_indicator

    indicator = parse_indicator(TOTALS_META, TOTALS_SQL, "segments.toml", stem="segments")
    # Without secondary suppression, 55 - 12 - 40 would give back the withheld 3.
    cells: dict[tuple[str | None, str | None], int] = {
        ("ent", "a"): 3, ("ent", "b"): 12, ("ent", "c"): 40, ("ent", None): 55}
    out = suppress(_segments(cells), indicator, k=5)
    assert _withheld(out) == {("ent", "a"), ("ent", "b")}
    rows = {r["population"]: r for r in out.to_pylist()}
    assert rows["b"]["events_suppressed"] and rows["b"]["share_suppressed"]
    assert rows[None]["users"] == 55 and rows["c"]["users"] == 40
    assert render_fr(out, indicator)[1]["users"] == f"<{N}5"
    # Two withheld parts that still sum below k: one more part goes.
    cells = {("ent", "a"): 1, ("ent", "b"): 2, ("ent", "c"): 30, ("ent", "d"): 31,
             ("ent", None): 64}
    assert _withheld(suppress(_segments(cells), indicator, k=5)) == {
        ("ent", "a"), ("ent", "b"), ("ent", "c")}
    # ... but not when their sum reaches k, nor when nothing is withheld.
    cells = {("ent", "a"): 4, ("ent", "b"): 4, ("ent", "c"): 30, ("ent", None): 38}
    assert _withheld(suppress(_segments(cells), indicator, k=5)) == {("ent", "a"), ("ent", "b")}
    cells = {("ent", "a"): 6, ("ent", "b"): 7, ("ent", None): 13}
    assert _withheld(suppress(_segments(cells), indicator, k=5)) == set()


def test_indicators_privacy_totals_in_two_dimensions_until_stable() -> None:
    from vigie.indicators.catalogue import parse_indicator

    indicator = parse_indicator(TOTALS_META, TOTALS_SQL, "segments.toml", stem="segments")
    cells = {("s1", "a"): 3, ("s1", "b"): 20, ("s1", None): 23,
             ("s2", "a"): 20, ("s2", "b"): 20, ("s2", None): 40,
             (None, "a"): 23, (None, "b"): 40, (None, None): 63}
    out = suppress(_segments(cells), indicator, k=5)
    # s1/a is small; its row needs s1/b withheld, its column s2/a: three cells in all.
    assert _withheld(out) == {("s1", "a"), ("s1", "b"), ("s2", "a")}
    _recoverable_is_safe(out, cells, 5)


def test_indicators_privacy_totals_must_be_dimensions() -> None:
    from vigie.indicators.catalogue import IndicatorError, parse_indicator

    with pytest.raises(IndicatorError, match="totals: 'day' is not a dimension"):
        parse_indicator(TOTALS_META.replace('totals = ["service", "population"]',
                                            'totals = ["day"]'),
                        TOTALS_SQL, "segments.toml", stem="segments")
