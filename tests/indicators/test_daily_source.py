"""Indicators read what ingestion writes: the same results from the summaries, from the daily
table on disk, or from the events alone."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from tests.ingest.test_pipeline import CAS, ENT, run, setup
from vigie.indicators import Filters
from vigie.indicators.catalogue import builtin_indicators
from vigie.indicators.engine import run as run_indicator
from vigie.warehouse.daily import daily_sql
from vigie.warehouse.query import connect

#: The logs are of one day, 25 September 2015.
FILTERS = [Filters(), Filters(start=date(2015, 9, 25), end=date(2015, 9, 25)),
           Filters(service="ent", population="student"), Filters(zone="vpn", device="desktop")]


def test_indicators_summaries_and_daily_table_on_disk_equal_the_events(tmp_path: Path) -> None:
    config = setup(tmp_path)
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    run(config)
    lake = tmp_path / "lake"
    summaries = connect(lake)
    assert {r[0] for r in summaries.sql("SELECT name FROM lake_summaries").fetchall()} == {
        "last_seen", "first_seen", "last_seen_hours", "daily_events", "service_days",
        "service_hours", "service_weeks", "source_hours"}
    from_daily = connect(lake)
    from_daily.execute("DELETE FROM lake_summaries")  # every summary computed from `daily`
    from_events = connect(lake)
    from_events.execute("DELETE FROM lake_summaries")
    from_events.execute("CREATE OR REPLACE VIEW daily AS "
                        + daily_sql("events", partition_keys=True)).fetchall()
    for indicator in builtin_indicators().values():
        for filters in FILTERS:
            expected = run_indicator(indicator, from_events, filters, strict=False).to_pylist()
            assert run_indicator(indicator, from_daily, filters, strict=False).to_pylist() == (
                expected), (indicator.id, filters)
            assert run_indicator(indicator, summaries, filters, strict=False).to_pylist() == (
                expected), (indicator.id, filters)
            # No bad line in these logs, and no study step in Agimus' directory.
            assert expected or indicator.id in ("quarantine", "study_steps") or (
                filters != Filters())
