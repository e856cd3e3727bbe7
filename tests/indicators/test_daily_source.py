"""Indicators read the daily table ingestion writes: same results as from the events."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.ingest.test_pipeline import CAS, ENT, run, setup
from vigie.indicators.catalogue import builtin_indicators
from vigie.indicators.engine import run as run_indicator
from vigie.warehouse.daily import daily_sql
from vigie.warehouse.query import connect


def test_indicators_daily_table_on_disk_equals_the_events(tmp_path: Path) -> None:
    config = setup(tmp_path)
    shutil.copy(CAS, tmp_path / "logs/cas.log")
    shutil.copy(ENT, tmp_path / "logs/ent.log")
    run(config)
    lake = tmp_path / "lake"
    assert any((lake / "daily").rglob("*.parquet"))
    from_disk = connect(lake)
    from_events = connect(lake)
    from_events.execute("CREATE OR REPLACE VIEW daily AS "
                        + daily_sql("events", partition_keys=True)).fetchall()
    readers = [i for i in builtin_indicators().values() if "daily" in i.sql]
    assert {i.id for i in readers} >= {"adoption", "devices", "place", "daily_users"}
    for indicator in readers:
        got = run_indicator(indicator, from_disk)
        expected = run_indicator(indicator, from_events)
        assert got.to_pylist() == expected.to_pylist(), indicator.id
        assert got.num_rows > 0, indicator.id
