"""A small lake written by hand, with every expected figure of the tests computable on paper.

Directory (snapshot 2026-09-01; snapshot 2026-10-01 adds the student s11):

    faculty  f01-f04 SCI, f05-f06 LET                         6 people
    student  s01-s08 SCI/E1, s09 LET/E2, s10 no structure    10 people (11 from 2026-10-01)
    employee e01-e02 ADM                                      2 people

Events (local time, Europe/Paris); x01 is an account missing from the directory:

    moodle   2026-09-07 Mon 10h  s01-s06 wifi desktop, f01 wired desktop
             2026-09-08 Tue 14h  s01, s02 outside smartphone; x01 outside desktop (2 events);
                                 one anonymous event, zone unknown, device other
             2026-10-20 Tue  9h  s11 outside desktop (school holiday)
    helpdesk 2026-09-07 Mon  9h  f01-f05 wired desktop
             2026-09-08 Tue 16h  s10 outside smartphone
             2026-10-20 Tue  9h  e01 wired desktop (school holiday)
             2026-11-11 Wed 11h  f01 vpn desktop (public holiday)

Quarantine: cas 2 lines "does not match…" (1 file) and 1 "unreadable time…"; helpdesk 1
"not valid UTF-8…".

`build_summarized_lake` writes the same lake as ingestion would leave it: with the `daily`
table and the summaries compaction folds the files into, so that every expected figure is
checked both ways (summaries read from their files, or computed from the tables).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from vigie.warehouse.compact import compact
from vigie.warehouse.daily import daily_sql
from vigie.warehouse.lake import Lake
from vigie.warehouse.query import connect

__all__ = ["add_events", "build_lake", "build_summarized_lake", "event_row", "pseudo"]

PARIS = ZoneInfo("Europe/Paris")
LABELS = {"SCI": "Sciences", "LET": "Lettres", "ADM": "Administration"}
SOURCES = {"moodle": ("cas", "cas_servicestats"), "helpdesk": ("helpdesk", "apache_combined")}
SCHOOL_HOLIDAYS = {date(2026, 10, 20)}
PUBLIC_HOLIDAYS = {date(2026, 11, 11)}

EVENT_SCHEMA = pa.schema([
    ("ts", pa.timestamp("us", tz="UTC")), ("day", pa.date32()), ("source", pa.string()),
    ("format", pa.string()), ("action", pa.string()), ("status", pa.int32()),
    ("user_pseudo", pa.string()), ("population", pa.string()),
    ("affiliations", pa.list_(pa.string())), ("structure", pa.string()),
    ("structure_label", pa.string()), ("etape", pa.string()), ("cursus_year", pa.string()),
    ("zone", pa.string()), ("device", pa.string()), ("browser", pa.string()),
    ("os", pa.string()), ("weekday", pa.int8()), ("hour", pa.int8()),
    ("is_public_holiday", pa.bool_()), ("is_school_holiday", pa.bool_()),
    ("academic_year", pa.string()),
])

DIRECTORY_SCHEMA = pa.schema([
    ("user_pseudo", pa.string()), ("population", pa.string()),
    ("affiliations", pa.list_(pa.string())), ("structure", pa.string()),
    ("structure_label", pa.string()), ("structure_parent", pa.string()),
    ("etape", pa.string()), ("diplome", pa.string()), ("cursus_year", pa.string()),
])

QUARANTINE_SCHEMA = pa.schema([
    ("file", pa.string()), ("line_no", pa.int64()), ("byte_offset", pa.int64()),
    ("reason", pa.string()), ("format", pa.string()),
    ("quarantined_at", pa.timestamp("us", tz="UTC")),
])


def pseudo(login: str) -> str:
    """A stand-in for the keyed pseudonym: 32 hexadecimal characters."""
    return hashlib.md5(login.encode()).hexdigest()


def _people(with_s11: bool) -> dict[str, tuple[str, str | None, str | None]]:
    """login -> (population, structure, etape)."""
    people: dict[str, tuple[str, str | None, str | None]] = {}
    for i in range(1, 7):
        people[f"f{i:02}"] = ("faculty", "SCI" if i <= 4 else "LET", None)
    for i in range(1, 9):
        people[f"s{i:02}"] = ("student", "SCI", "E1")
    people["s09"] = ("student", "LET", "E2")
    people["s10"] = ("student", None, None)
    if with_s11:
        people["s11"] = ("student", "SCI", "E1")
    people["e01"] = people["e02"] = ("employee", "ADM", None)
    return people


#: (service, day, hour, login or None, zone, device, repeat)
EVENTS: list[tuple[str, date, int, str | None, str, str, int]] = [
    *[("moodle", date(2026, 9, 7), 10, f"s{i:02}", "wifi", "desktop", 1) for i in range(1, 7)],
    ("moodle", date(2026, 9, 7), 10, "f01", "wired", "desktop", 1),
    ("moodle", date(2026, 9, 8), 14, "s01", "outside", "smartphone", 1),
    ("moodle", date(2026, 9, 8), 14, "s02", "outside", "smartphone", 1),
    ("moodle", date(2026, 9, 8), 14, "x01", "outside", "desktop", 2),
    ("moodle", date(2026, 9, 8), 14, None, "unknown", "other", 1),
    ("moodle", date(2026, 10, 20), 9, "s11", "outside", "desktop", 1),
    *[("helpdesk", date(2026, 9, 7), 9, f"f{i:02}", "wired", "desktop", 1) for i in range(1, 6)],
    ("helpdesk", date(2026, 9, 8), 16, "s10", "outside", "smartphone", 1),
    ("helpdesk", date(2026, 10, 20), 9, "e01", "wired", "desktop", 1),
    ("helpdesk", date(2026, 11, 11), 11, "f01", "vpn", "desktop", 1),
]


def event_row(service: str, day: date, hour: int, login: str | None, zone: str,
               device: str) -> dict[str, Any]:
    source, fmt = SOURCES[service]
    people = _people(with_s11=day >= date(2026, 10, 1))
    if login is None:
        population, structure, etape = "anonymous", None, None
    else:
        population, structure, etape = people.get(login, ("unknown", None, None))
    local = datetime(day.year, day.month, day.day, hour, 30, tzinfo=PARIS)
    known = login is not None and login in people
    return {
        "ts": local.astimezone(ZoneInfo("UTC")), "day": day, "source": source, "format": fmt,
        "action": "GET", "status": 200, "user_pseudo": None if login is None else pseudo(login),
        "population": population, "affiliations": [population] if known else None,
        "structure": structure, "structure_label": LABELS.get(structure or ""),
        "etape": etape, "cursus_year": "L1" if etape else None, "zone": zone,
        "device": device, "browser": "Firefox", "os": "Linux",
        "weekday": day.isoweekday(), "hour": hour,
        "is_public_holiday": day in PUBLIC_HOLIDAYS, "is_school_holiday": day in SCHOOL_HOLIDAYS,
        "academic_year": "2026-2027",
    }


def _write(rows: list[dict[str, Any]], schema: pa.Schema, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def build_lake(lake: Path) -> Path:
    """Writes the lake described above under `lake` and returns it."""
    partitions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for service, day, hour, login, zone, device, repeat in EVENTS:
        for _ in range(repeat):
            partitions[service, day.strftime("%Y-%m")].append(
                event_row(service, day, hour, login, zone, device))
    for (service, month), rows in partitions.items():
        _write(rows, EVENT_SCHEMA,
               lake / "events" / f"service={service}" / f"month={month}" / "part-0.parquet")
    for snapshot, with_s11 in ((date(2026, 9, 1), False), (date(2026, 10, 1), True)):
        rows = [{"user_pseudo": pseudo(login), "population": pop, "affiliations": [pop],
                 "structure": structure, "structure_label": LABELS.get(structure or ""),
                 "structure_parent": None, "etape": etape, "diplome": None,
                 "cursus_year": "L1" if etape else None}
                for login, (pop, structure, etape) in _people(with_s11).items()]
        _write(rows, DIRECTORY_SCHEMA,
               lake / "directory" / f"snapshot_date={snapshot}" / "part-0.parquet")
    at = datetime(2026, 11, 12, 3, 0, tzinfo=ZoneInfo("UTC"))
    bad = [("cas", "a.log", "does not match format cas_servicestats"),
           ("cas", "a.log", "does not match format cas_servicestats"),
           ("cas", "b.log", "unreadable time (expected %Y-%m-%d %H:%M:%S)"),
           ("helpdesk", "c.log", "not valid UTF-8 text (check the source encoding)")]
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line_no, (source, file, reason) in enumerate(bad, start=1):
        by_source[source].append({"file": file, "line_no": line_no, "byte_offset": 0,
                                  "reason": reason, "format": "x", "quarantined_at": at})
    for source, rows in by_source.items():
        _write(rows, QUARANTINE_SCHEMA, lake / "quarantine" / f"source={source}" / "part-0.parquet")
    return lake


def add_events(lake: Path, service: str, month: str, rows: list[dict[str, Any]]) -> None:
    """Adds a file of events (`event_row`s, maybe edited) to a lake built above."""
    folder = lake / "events" / f"service={service}" / f"month={month}"
    _write(rows, EVENT_SCHEMA, folder / f"part-{len(list(folder.glob('*.parquet')))}.parquet")


def build_summarized_lake(lake: Path) -> Path:
    """The lake above with its `daily` table, compacted as `vigie ingest` leaves a lake."""
    return summarize(build_lake(lake))


def summarize(lake: Path) -> Path:
    """`lake` (events only, as the tests write it) with its `daily` table, then compacted as
    `vigie ingest` leaves a lake."""
    connect(lake).execute(
        f"COPY ({daily_sql('events', partition_keys=True)}) TO '{lake / 'daily'}' "
        "(FORMAT parquet, PARTITION_BY (service, month), FILENAME_PATTERN 'part-{i}')")
    writer = Lake(lake)
    try:
        compact(writer)
    finally:
        writer.close()
    return lake
