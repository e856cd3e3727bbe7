"""Who sees what: viewers, managers restricted to structures, admins; forged filters refused.

The restricted managers' numbers are checked against SQL written here on the demo lake, not
against the application's own restriction, so a restriction that leaked or lost rows would fail.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vigie.config import Config
from vigie.warehouse.query import connect
from vigie.web.options import LakeFacts
from vigie.web.scope import restrict

K = 5
UFRST = ("UFRST", "LIDEMO")  # LIDEMO is a laboratory of UFRST in the demo directory


def _rows(client: TestClient, path: str) -> list[dict[str, Any]]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def _expected_daily_users(config: Config, structures: tuple[str, ...]
                          ) -> dict[tuple[str, str], tuple[int | None, int | None]]:
    """(service, day) → (users, events) as published: withheld below k, events with them."""
    codes = ", ".join(f"'{s}'" for s in structures)
    found = connect(config.lake_path).sql(
        "SELECT service, CAST(day AS VARCHAR), count(DISTINCT user_pseudo), sum(events) "
        f"FROM daily WHERE structure IN ({codes}) GROUP BY ALL").fetchall()
    return {(service, day): ((users, int(events)) if users >= K else (None, None))
            for service, day, users, events in found}


def test_web_restricted_manager_sees_only_its_structures(
        demo: tuple[Config, Path], manager_ufrst: TestClient, admin: TestClient) -> None:
    config = demo[0]
    data = manager_ufrst.get("/api/indicators/daily_users").json()
    assert data["restricted_to"] == sorted(UFRST)
    got = {(r["service"], r["day"]): (r["users"], r["events"]) for r in data["rows"]}
    assert got == _expected_daily_users(config, UFRST)
    everyone = {(r["service"], r["day"]): r["users"]
                for r in _rows(admin, "/api/indicators/daily_users")}
    assert sum(u or 0 for u, _ in got.values()) < sum(u or 0 for u in everyone.values())
    # Every panel indicator is restricted, including the head counts of population_daily.
    people = dict(connect(config.lake_path).sql(
        "SELECT population, max(n) FROM (SELECT day, population, sum(people) AS n "
        "FROM population_daily WHERE structure IN ('UFRST', 'LIDEMO') GROUP BY ALL) "
        "GROUP BY population").fetchall())
    adoption = _rows(manager_ufrst, "/api/indicators/adoption")
    assert {r["population"]: r["people"] for r in adoption} == {
        p: (n if n >= K else None) for p, n in people.items()}


def test_web_restricted_manager_without_sub_structures_equals_the_structure_filter(
        demo: tuple[Config, Path], manager_deg: TestClient, admin: TestClient) -> None:
    mine = _rows(manager_deg, "/api/indicators/daily_users")
    assert mine == _rows(admin, "/api/indicators/daily_users?structure=UFRDEG")
    assert {(r["service"], r["day"]): (r["users"], r["events"]) for r in mine} == (
        _expected_daily_users(demo[0], ("UFRDEG",)))


def test_web_restricted_manager_csv_and_sub_structure_filter(
        manager_ufrst: TestClient, admin: TestClient) -> None:
    rows = list(csv.DictReader(io.StringIO(
        manager_ufrst.get("/api/indicators/devices.csv").text)))
    json_rows = _rows(manager_ufrst, "/api/indicators/devices")
    assert [int(r["events"]) for r in rows] == [r["events"] for r in json_rows]
    assert rows != list(csv.DictReader(io.StringIO(
        admin.get("/api/indicators/devices.csv").text)))
    lab = "/api/indicators/daily_users?structure=LIDEMO"
    assert _rows(manager_ufrst, lab) == _rows(admin, lab)  # a sub-structure may be chosen


@pytest.mark.parametrize("path", [
    "/api/indicators/adoption?structure=UFRDEG",
    "/api/indicators/adoption.csv?structure=UFRDEG",
    "/api/indicators/daily_users?structure=UDEMO",  # the parent is not below UFRST
    "/dashboards/overview?structure=UFRDEG",
])
def test_web_forged_structure_filter_is_refused(manager_ufrst: TestClient, path: str) -> None:
    response = manager_ufrst.get(path)
    assert response.status_code == 403
    assert "UFRDEG" in response.text or "UDEMO" in response.text


def test_web_etape_of_another_structure_is_narrowed_to_nothing(
        demo: tuple[Config, Path], manager_ufrst: TestClient, admin: TestClient) -> None:
    ((etape,),) = connect(demo[0].lake_path).sql(
        "SELECT etape FROM daily WHERE structure = 'UFRDEG' AND etape IS NOT NULL "
        "GROUP BY etape ORDER BY count(*) DESC, etape LIMIT 1").fetchall()
    path = f"/api/indicators/daily_users?etape={etape}"
    assert _rows(admin, path)
    assert _rows(manager_ufrst, path) == []


def test_web_restricted_manager_cannot_read_unrestrictable_indicators(
        manager_ufrst: TestClient) -> None:
    listing = {i["id"] for i in manager_ufrst.get("/api/indicators").json()}
    assert "data_quality" not in listing and "quarantine" not in listing
    assert {"adoption", "daily_users", "gaps"} <= listing
    for indicator in ("data_quality", "quarantine"):
        assert manager_ufrst.get(f"/api/indicators/{indicator}").status_code == 403
        assert manager_ufrst.get(f"/api/indicators/{indicator}.csv").status_code == 403
    quality = manager_ufrst.get("/dashboards/quality")
    assert quality.status_code == 200
    assert "/api/indicators/gaps" in quality.text
    assert "/api/indicators/data_quality" not in quality.text
    assert manager_ufrst.get("/dashboards/ingestion").status_code == 403
    assert "/dashboards/ingestion" not in quality.text


def test_web_viewer_and_unrestricted_manager_see_the_whole_institution(
        viewer: TestClient, admin: TestClient, app: Any) -> None:
    from tests.web.conftest import login

    everyone = _rows(admin, "/api/indicators/daily_users")
    assert _rows(viewer, "/api/indicators/daily_users") == everyone
    assert viewer.get("/api/indicators/daily_users").json()["restricted_to"] is None
    assert viewer.get("/api/indicators/data_quality").status_code == 403
    with TestClient(app, follow_redirects=False) as marc:
        login(marc, "marc")
        assert _rows(marc, "/api/indicators/daily_users") == everyone
        assert marc.get("/api/indicators/data_quality").status_code == 200
        assert marc.get("/dashboards/ingestion").status_code == 403


def _menu(page: str, name: str) -> dict[str, str]:
    select = re.search(rf'<select name="{name}" id="f-{name}">(.*?)</select>', page, re.S)
    assert select is not None, name
    return dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1)))


def test_web_structure_and_etape_menus(manager_ufrst: TestClient, admin: TestClient) -> None:
    mine = manager_ufrst.get("/dashboards/overview?structure=LIDEMO").text
    assert _menu(mine, "structure") == {
        "": "Tous", "UFRST": "UFR Sciences et Technologies (UFRST)",
        "LIDEMO": "Laboratoire d&#39;Informatique de Démo (UMR 9999) (LIDEMO)"}
    assert 'value="LIDEMO" selected' in mine
    assert "Chiffres limités à vos structures" in mine
    etapes = set(_menu(mine, "etape")) - {""}
    assert etapes and all(e.startswith("SC") for e in etapes)  # UFRST's étapes
    everything = admin.get("/dashboards/overview?etape=SCL1INF&lang=en").text
    assert {"UFRDEG", "UFRST", "DNUM"} <= set(_menu(everything, "structure"))
    assert set(_menu(everything, "etape")) > etapes
    assert "Figures limited" not in everything
    csv_link = re.search(r'href="(/api/indicators/daily_users\.csv\?[^"]+)"', everything)
    assert csv_link is not None and "etape=SCL1INF" in csv_link.group(1)


def test_web_restrict_keeps_rows_of_the_structures_and_drops_other_views(
        demo: tuple[Config, Path]) -> None:
    con = connect(demo[0].lake_path)
    restrict(con, frozenset({"UFRDEG"}))
    assert con.sql("SELECT DISTINCT structure FROM events").fetchall() == [("UFRDEG",)]
    assert con.sql("SELECT DISTINCT structure FROM population_daily").fetchall() == [
        ("UFRDEG",)]
    views = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables "
                                   "WHERE table_type = 'VIEW'").fetchall()}
    assert "quarantine" not in views and "statements" not in views
    # Summaries with a structure are restricted too; those without are gone (indicators then
    # compute them from the restricted tables).
    assert con.sql("SELECT DISTINCT structure FROM last_seen").fetchall() == [("UFRDEG",)]
    assert not views & {"service_days", "service_hours", "last_seen_hours"}
    empty = connect(demo[0].lake_path)
    restrict(empty, frozenset())
    assert empty.sql("SELECT count(*) FROM daily").fetchall() == [(0,)]


def test_web_sub_structures_at_any_depth() -> None:
    facts = LakeFacts({}, {"U": ("Université", None), "P": (None, "U"), "F": ("UFR", "P"),
                           "L": ("Labo", "F"), "X": ("Autre", "U")}, {})
    assert facts.below(["P"]) == {"P", "F", "L"}
    assert facts.below(["L", "gone"]) == {"L", "gone"}
    assert facts.structure_label("P") == "P" and facts.structure_label("F") == "UFR (F)"

