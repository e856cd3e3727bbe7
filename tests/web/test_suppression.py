"""Secondary suppression through the web application: an installation's indicator with totals.

The shipped indicators publish no total next to its parts; an installation's may (a ROLLUP), and
then a withheld part must not come back as `total − published parts` in the API, the CSV or the
page's table alike.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient

from tests.web.conftest import END, login
from vigie.config import Config, IndicatorsConfig
from vigie.warehouse.query import connect
from vigie.web.app import create_app

K = 5
META = """
id = "service_totals"
grain = "one row per service and population, and one total per service"
dimensions = ["service", "population"]
totals = ["population"]
filters = ["period", "service"]
chart = "table"
unit = "people"
title = { fr = "Utilisateurs par population, avec total", en = "Users per population, with total" }
description = { fr = "Essai de suppression secondaire.", en = "Secondary suppression test." }

[[measures]]
column = "users"
kind = "people"
label = { fr = "Utilisateurs", en = "Users" }
"""
SQL = """
SELECT service, population, count(DISTINCT user_pseudo) AS users
FROM filtered_daily
WHERE user_pseudo IS NOT NULL AND service IS NOT NULL
GROUP BY ROLLUP (service, population)
HAVING service IS NOT NULL
ORDER BY service, population NULLS LAST
"""


def test_web_totals_do_not_give_back_withheld_cells(demo: tuple[Config, Path],
                                                    tmp_path: Path) -> None:
    config, accounts = demo
    folder = tmp_path / "indicators"
    folder.mkdir()
    (folder / "service_totals.toml").write_text(META, encoding="utf-8")
    (folder / "service_totals.sql").write_text(SQL, encoding="utf-8")
    app = create_app(config.model_copy(update={
        "indicators": IndicatorsConfig(folders=[str(folder)])}), accounts=accounts,
        today=lambda: END)
    exact = {(s, p): n for s, p, n in connect(config.lake_path).sql(
        "SELECT service, population, count(DISTINCT user_pseudo) FROM daily "
        "WHERE user_pseudo IS NOT NULL GROUP BY ALL").fetchall()}
    with TestClient(app, follow_redirects=False) as client:
        login(client, "alice")
        data = client.get("/api/indicators/service_totals").json()
        exported = list(csv.DictReader(io.StringIO(
            client.get("/api/indicators/service_totals.csv").text)))
    secondary = 0
    for service in {r["service"] for r in data["rows"]}:
        rows = [r for r in data["rows"] if r["service"] == service]
        (total,) = [r for r in rows if r["population"] is None]
        parts = [r for r in rows if r["population"] is not None]
        withheld = [r for r in parts if r["users_suppressed"]]
        if withheld and not total["users_suppressed"]:
            remainder = total["users"] - sum(r["users"] for r in parts if not r["users_suppressed"])
            assert remainder >= K, service
        secondary += sum(exact[(service, r["population"])] >= K for r in withheld)
    assert secondary > 0, "the demo must need secondary suppression somewhere"
    assert [int(r["users"]) if r["users"] else None for r in exported] == [
        r["users"] for r in data["rows"]]
    assert all(t["users"] == "<\u202f5" for r, t in zip(data["rows"], data["text"], strict=True)
               if r["users_suppressed"])
