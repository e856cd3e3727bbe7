"""Secondary suppression through the web application: an installation's indicator with totals.

The shipped indicators publish no total next to its parts; an installation's may (a ROLLUP), and
then a withheld part must not come back as `total − published parts` in the API, the CSV or the
page's table alike.

And a CSV export says `< k` exactly where the API withholds a cell, whatever k the configuration
sets (`assert_csv_withholds_as_the_api`, also used by the export tests of `test_app.py`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.conftest import END, login
from vigie.config import Config, IndicatorsConfig
from vigie.indicators.catalogue import load_catalogue
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
        text = client.get("/api/indicators/service_totals.csv").text
    exported = list(csv.DictReader(io.StringIO(text)))
    assert assert_csv_withholds_as_the_api(text, data, K) > 0
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
    assert [None if r["users"] == f"< {K}" else int(r["users"]) for r in exported] == [
        r["users"] for r in data["rows"]]
    assert all(t["users"] == "<\u202f5" for r, t in zip(data["rows"], data["text"], strict=True)
               if r["users_suppressed"])


def assert_csv_withholds_as_the_api(exported: str, data: dict[str, Any], k: int) -> int:
    """Checks a CSV export against the API's answer to the same request, cell by cell, and
    returns how many cells are withheld.

    A cell the API flags (`<column>_suppressed`) reads `< k`; every other cell is the API's
    value written plainly (numbers with a dot, no grouping; no data empty), so `<` appears
    nowhere else; and the columns, flags included, are the API's.
    """
    assert data["k"] == k
    header, *lines = list(csv.reader(io.StringIO(exported)))
    assert header == data["columns"]
    assert len(lines) == len(data["rows"])
    withheld = 0
    for line, row in zip(lines, data["rows"], strict=True):
        for column, cell in zip(header, line, strict=True):
            value = row[column]
            if row.get(column + "_suppressed"):
                assert value is None and cell == f"< {k}", (column, row, line)
                withheld += 1
            else:
                assert cell == ("" if value is None else str(value)), (column, row, line)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    assert float(cell) == value
    assert exported.count("<") == withheld
    return withheld


def test_web_csv_withholds_with_the_configured_k(demo: tuple[Config, Path], app: FastAPI
                                                 ) -> None:
    """k = 10 rather than the default 5: every export writes `< 10` exactly where the API
    withholds, and withholds more than with k = 5 (cells of 5 to 9 people)."""
    config, accounts = demo
    strict = create_app(config.model_copy(update={"indicators": IndicatorsConfig(k=10)}),
                        accounts=accounts, today=lambda: END)
    withheld = 0
    with TestClient(strict, follow_redirects=False) as client:
        login(client, "alice")
        for indicator in load_catalogue():
            for lang in ("fr", "en"):
                query = f"?period=all&lang={lang}"
                data = client.get(f"/api/indicators/{indicator}{query}").json()
                text = client.get(f"/api/indicators/{indicator}.csv{query}").text
                withheld += assert_csv_withholds_as_the_api(text, data, 10)
        at_ten = client.get("/api/indicators/adoption.csv").text.count("< 10")
        english = client.get("/api/indicators/adoption?lang=en").json()["text"]
    assert withheld > 0
    assert any(t["users"] == "< 10" for t in english)
    with TestClient(app, follow_redirects=False) as client:
        login(client, "alice")
        at_five = client.get("/api/indicators/adoption.csv").text.count("< 5")
    assert at_ten > at_five > 0
