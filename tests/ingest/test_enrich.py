"""Enrichment in Arrow: directory snapshots by day, lookups, dictionary columns, daily rows."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from vigie.ingest.enrich import Lookup, People, encode, gather
from vigie.warehouse.daily import DAILY_KEYS, daily_rows, daily_sql

D = date


def people() -> People:
    """Two snapshots: `a` a student then staff, `b` gone from the second, `c` new in it."""
    return People(pa.table({
        "user_pseudo": ["a", "b", "a", "c"],
        "population": ["student", "staff", "staff", "teacher"],
        "affiliations": [["student"], ["staff"], ["staff"], ["faculty"]],
        "structure": ["UFR1", "DSI", "DSI", None],
        "structure_label": ["UFR 1", "DSI", "DSI", None],
        "etape": ["L1", None, None, None],
        "cursus_year": ["L1", None, None, None],
        "valid_from": pa.array([D(1, 1, 1), D(1, 1, 1), D(2026, 3, 10), D(2026, 3, 10)]),
    }))


def populations(found: People, pseudo: list[str | None], days: list[date]) -> list[str | None]:
    rows = found.rows(pc.dictionary_encode(pa.array(pseudo, pa.string())),
                      pa.chunked_array([pa.array(days, pa.date32())]))
    result: list[str | None] = gather(found.encoded["population"], rows, "unknown").to_pylist()
    return result


def test_ingest_enrich_person_as_of_each_day_and_unknown_when_gone() -> None:
    found = people()
    before, after = D(2026, 3, 9), D(2026, 3, 10)
    # One chunk across the second snapshot's date: each event takes its own day's snapshot.
    assert populations(found, ["a", "a", "b", "b", "c", "c", None],
                       [before, after, before, after, before, after, after]) == [
        "student", "staff", "staff", "unknown", "unknown", "teacher", "unknown"]
    # Chunks inside one snapshot's validity (the usual case).
    assert populations(found, ["a", "b"], [D(2020, 1, 1)] * 2) == ["student", "staff"]
    assert populations(found, ["a", "b"], [D(2027, 1, 1)] * 2) == ["staff", "unknown"]


def test_ingest_enrich_no_directory_gives_unknown() -> None:
    empty = People(people().table.slice(0, 0))
    assert populations(empty, ["a", None], [D(2026, 3, 9)] * 2) == ["unknown", "unknown"]


def test_ingest_enrich_lookup_computes_each_key_once() -> None:
    computed: list[list[str]] = []

    def compute(keys: pa.Array) -> pa.Table:
        computed.append(keys.to_pylist())
        return pa.table({"key": keys, "size": pa.compute.utf8_length(keys)})

    lookup = Lookup(compute)
    table, rows = lookup.match(pa.chunked_array([["ab", None, "c", "ab"]]))
    assert table.column("size").take(rows).to_pylist() == [2, None, 1, 2]
    table, rows = lookup.match(pa.chunked_array([["c", "def"]]))
    assert table.column("size").take(rows).to_pylist() == [1, 3]
    assert sorted(map(sorted, computed)) == [["ab", "c"], ["def"]]
    # A dictionary-encoded column, with a default for NULL values and rows not found.
    zones = encode(pa.array(["wifi", None, "wifi"]), ("unknown",))
    assert gather(zones, pa.array([0, 1, None, 2]), "unknown").to_pylist() == [
        "wifi", "unknown", "unknown", "wifi"]
    assert gather(zones, pa.array([0, 1])).to_pylist() == ["wifi", None]


def test_ingest_enrich_daily_rows_equal_their_sql_twin() -> None:
    size = 12
    events = pa.table({
        "day": pa.array([D(2026, 3, 9 + i % 2) for i in range(size)]),
        "user_pseudo": pa.array([None if i == 5 else f"p{i % 3}" for i in range(size)]),
        "population": encode(pa.array(["student"] * size)),
        "structure": pa.array(["UFR1"] * size),
        "structure_label": pa.array(["UFR 1"] * size),
        "etape": pa.array([None] * size, pa.string()),
        "cursus_year": pa.array([None] * size, pa.string()),
        "zone": encode(pa.array(["wifi" if i % 4 else "outside" for i in range(size)])),
        "device": encode(pa.array(["desktop" if i % 5 else "smartphone" for i in range(size)])),
        "weekday": pa.array([1 + i % 2 for i in range(size)], pa.int8()),
        "is_public_holiday": pa.array([False] * size),
        "is_school_holiday": pa.array([i % 2 == 1 for i in range(size)]),
        "academic_year": pa.array(["2025-2026"] * size),
        "source": pa.array(["cas"] * size),
        "service": pa.array(["ent" if i < 8 else "moodle" for i in range(size)]),
        "month": pa.array(["2026-03"] * size),
    })
    assert set(DAILY_KEYS) | {"service", "month"} == set(events.column_names)
    con = duckdb.connect()
    con.register("events", events)
    expected = con.sql(daily_sql("events", partition_keys=True)).fetchall()
    con.register("ours", daily_rows(events))
    keys = ", ".join((*DAILY_KEYS, "service", "month", "events"))
    assert sorted(con.sql(f"SELECT {keys} FROM ours").fetchall(), key=repr) == sorted(
        expected, key=repr)
