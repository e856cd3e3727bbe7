"""The daily table equals the aggregation of the events it summarizes, whatever happened."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.ingest.test_pipeline import CAS, ENT, events, run, setup
from vigie.warehouse.daily import DAILY_KEYS


def differences(config: Path) -> list[tuple[Any, ...]]:
    """Rows of either side missing from the other (daily re-summed vs events counted)."""
    keys = ", ".join(DAILY_KEYS)
    daily = f"SELECT {keys}, service, month, sum(events) AS n FROM daily GROUP BY ALL"
    counted = f"SELECT {keys}, service, month, count(*) AS n FROM events GROUP BY ALL"
    return events(config, f"({daily} EXCEPT ALL {counted}) UNION ALL "
                          f"({counted} EXCEPT ALL {daily})")


def test_warehouse_daily_equals_events_after_each_run(tmp_path: Path) -> None:
    config = setup(tmp_path)
    lines = CAS.read_bytes().splitlines(keepends=True)
    (tmp_path / "logs/cas.log").write_bytes(b"".join(lines[:4000]))
    run(config)
    assert differences(config) == []
    (tmp_path / "logs/cas.log").write_bytes(b"".join(lines))
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    run(config)
    assert differences(config) == []
    totals = events(config, "SELECT (SELECT sum(events) FROM daily), (SELECT count(*) FROM events),"
                            " (SELECT count(*) FROM daily)")[0]
    assert totals[0] == totals[1] == 10_000 + 8_584
    assert totals[2] < totals[1] / 5  # far fewer rows than events
    # Distinct people over any grouping are the same from either table.
    by_service = "SELECT service, population, count(DISTINCT user_pseudo) FROM {} GROUP BY ALL"
    assert sorted(events(config, by_service.format("daily"))) == sorted(
        events(config, by_service.format("events")))
    daily_parts = {p.parent.relative_to(tmp_path / "lake/daily")
                   for p in (tmp_path / "lake/daily").rglob("*.parquet")}
    event_parts = {p.parent.relative_to(tmp_path / "lake/events")
                   for p in (tmp_path / "lake/events").rglob("*.parquet")}
    assert daily_parts == event_parts
