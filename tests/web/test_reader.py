"""The web application keeps its lake connections until the lake's files change."""

from __future__ import annotations

import shutil
from pathlib import Path

from vigie.config import Config
from vigie.indicators import Filters, builtin_indicators
from vigie.warehouse.summaries import SUMMARIES
from vigie.web.data import LakeReader


def test_web_lake_reader_opens_a_new_connection_when_the_lake_changes(
        demo: tuple[Config, Path], tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(demo[0].lake_path, lake)
    reader = LakeReader(lake)
    daily_users = builtin_indicators()["daily_users"]
    services = {r["service"] for r in reader.published(daily_users, Filters(), 1).to_pylist()}
    assert "helpdesk" in services
    assert reader.cursor().sql("SELECT count(*) FROM lake_summaries").fetchall() == [
        (len(SUMMARIES),)]
    for table in ("events", "daily", *(s.name for s in SUMMARIES)):  # as a retention would
        shutil.rmtree(lake / table / "service=helpdesk")
    after = {r["service"] for r in reader.published(daily_users, Filters(), 1).to_pylist()}
    assert after == services - {"helpdesk"}
