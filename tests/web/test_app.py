"""The web application through FastAPI's TestClient: authentication, roles, API, exports."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Route

from tests.web.conftest import END, PASSWORDS, login
from tests.web.test_suppression import assert_csv_withholds_as_the_api
from vigie.config import Config, WebConfig
from vigie.indicators.catalogue import load_catalogue
from vigie.web.accounts import write_account
from vigie.web.app import create_app
from vigie.web.auth import COOKIE
from vigie.web.dashboards import load_dashboards

PUBLIC = {"/__heartbeat__", "/login"}
SAMPLE = {"dashboard_id": "overview", "indicator_id": "adoption", "name": "swagger-ui.css"}


def test_web_heartbeat_needs_no_authentication(anonymous: TestClient) -> None:
    response = anonymous.get("/__heartbeat__")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_web_every_other_route_requires_authentication(app: FastAPI,
                                                       anonymous: TestClient) -> None:
    checked = []
    for route in app.routes:
        if not isinstance(route, Route) or route.path in PUBLIC or "GET" not in (
                route.methods or ()):
            continue
        path = route.path.format(**SAMPLE)
        api = anonymous.get(path, headers={"Accept": "application/json"})
        assert api.status_code == 401, path
        page = anonymous.get(path, headers={"Accept": "text/html"})
        assert page.status_code in (401, 303), path
        if page.status_code == 303:
            assert page.headers["location"].startswith("/login?next=")
        checked.append(path)
    assert {"/", "/dashboards/overview", "/api/indicators", "/api/indicators/adoption",
            "/api/indicators/adoption.csv", "/static/plotly.min.js", "/openapi.json",
            "/docs", "/static/swagger/swagger-ui.css"} <= set(checked)


def test_web_login_flow(anonymous: TestClient) -> None:
    page = anonymous.get("/dashboards/ent?period=all", headers={"Accept": "text/html"})
    assert page.status_code == 303
    target = page.headers["location"]
    assert target == "/login?next=%2Fdashboards%2Fent%3Fperiod%3Dall&lang=fr"
    form = anonymous.get(target)
    assert form.status_code == 200 and 'name="password"' in form.text
    wrong = anonymous.post("/login", data={"user": "alice", "password": "nope",
                                           "next": "/dashboards/ent?period=all"})
    assert wrong.status_code == 303 and "error=1" in wrong.headers["location"]
    assert COOKIE not in anonymous.cookies
    good = anonymous.post("/login", data={"user": "alice", "password": PASSWORDS["alice"],
                                          "next": "/dashboards/ent?period=all"})
    assert good.status_code == 303 and good.headers["location"] == "/dashboards/ent?period=all"
    assert "httponly" in good.headers["set-cookie"].lower()
    assert anonymous.get("/dashboards/ent?period=all").status_code == 200
    anonymous.post("/logout")
    assert anonymous.get("/api/indicators").status_code == 401


def test_web_login_refuses_open_redirects(anonymous: TestClient) -> None:
    good = anonymous.post("/login", data={"user": "alice", "password": PASSWORDS["alice"],
                                          "next": "//evil.example/"})
    assert good.headers["location"] == "/"


def test_web_forged_cookie_and_changed_password(demo: tuple[Config, Path],
                                                app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as client:
        client.cookies.set(COOKIE, "eyJ1IjoiYWxpY2UifQ.forged")
        assert client.get("/api/indicators").status_code == 401
    config, accounts = demo
    copy = accounts.with_name("accounts-copy.json")
    copy.write_bytes(accounts.read_bytes())
    separate = create_app(config, accounts=copy, today=lambda: END)
    with TestClient(separate, follow_redirects=False) as client:
        login(client, "marc")
        assert client.get("/api/indicators").status_code == 200
        write_account(copy, "marc", "a-new-password", "manager")
        assert client.get("/api/indicators").status_code == 401


def test_web_trusted_header_only_from_trusted_proxies(app: FastAPI) -> None:
    header = {"REMOTE_USER": "alice", "Accept": "application/json"}
    with TestClient(app, follow_redirects=False, client=("203.0.113.7", 4000)) as outsider:
        assert outsider.get("/api/indicators", headers=header).status_code == 401
    with TestClient(app, follow_redirects=False, client=("10.9.0.12", 4000)) as proxy:
        assert proxy.get("/api/indicators", headers=header).status_code == 200
        page = proxy.get("/dashboards/ingestion", headers={"REMOTE_USER": "proxyonly"})
        assert page.status_code == 403  # a manager's account, without password
        assert proxy.get("/dashboards/quality",
                         headers={"REMOTE_USER": "proxyonly"}).status_code == 200
        assert proxy.get("/api/indicators",
                         headers={"REMOTE_USER": "stranger"}).status_code == 403


def test_web_proxy_settings_from_the_configuration(demo: tuple[Config, Path]) -> None:
    """`[web] trusted_proxies`, `remote_user_header` and `proxy_default_role`: a CAS or
    Shibboleth deployment needs no command-line option, and its users without an account get
    the default role."""
    config, accounts = demo
    web = WebConfig(trusted_proxies=["10.9.0.0/24"], remote_user_header="X-Remote-User",
                    proxy_default_role="viewer")
    app = create_app(config.model_copy(update={"web": web}), accounts=accounts,
                     today=lambda: END)
    json = {"Accept": "application/json"}
    with TestClient(app, follow_redirects=False, client=("10.9.0.12", 4000)) as proxy:
        assert proxy.get("/api/indicators",
                         headers={**json, "X-Remote-User": "stranger"}).status_code == 200
        assert proxy.get("/dashboards/ingestion",
                         headers={"X-Remote-User": "stranger"}).status_code == 403  # a viewer
        assert proxy.get("/api/indicators",
                         headers={**json, "REMOTE_USER": "alice"}).status_code == 401
    with TestClient(app, follow_redirects=False, client=("203.0.113.7", 4000)) as outsider:
        assert outsider.get("/api/indicators",
                            headers={**json, "X-Remote-User": "alice"}).status_code == 401


@pytest.mark.parametrize(("proxies", "message"), [
    (["10.9.0.300"], "'10.9.0.300' is not an IP address or CIDR block"),
    (["proxy.univ.fr"], "'proxy.univ.fr' is not an IP address or CIDR block"),
])
def test_web_bad_trusted_proxy_is_a_clear_error(proxies: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        WebConfig(trusted_proxies=proxies)


def test_web_viewer_cannot_see_admin_dashboards(viewer: TestClient, admin: TestClient) -> None:
    overview = viewer.get("/dashboards/overview")
    assert overview.status_code == 200
    assert "/dashboards/ingestion" not in overview.text
    assert "/dashboards/quality" not in overview.text
    assert viewer.get("/dashboards/ingestion").status_code == 403
    assert viewer.get("/dashboards/quality").status_code == 403
    assert viewer.get("/api/indicators/quarantine").status_code == 403
    assert viewer.get("/api/indicators/quarantine.csv").status_code == 403
    assert "quarantine" not in {i["id"] for i in viewer.get("/api/indicators").json()}
    assert admin.get("/dashboards/ingestion").status_code == 200
    assert "/dashboards/ingestion" in admin.get("/dashboards/overview").text
    assert admin.get("/api/indicators/quarantine").status_code == 200


def test_web_catalogue_listing(admin: TestClient) -> None:
    listing = admin.get("/api/indicators?lang=en").json()
    assert {i["id"] for i in listing} == set(load_catalogue())
    adoption = next(i for i in listing if i["id"] == "adoption")
    assert adoption["title"] == "Service penetration by population"


def test_web_api_filters_change_results(admin: TestClient) -> None:
    everything = admin.get("/api/indicators/adoption").json()
    ent = admin.get("/api/indicators/adoption?service=ent").json()
    assert {r["service"] for r in everything["rows"]} > {"ent"}
    assert {r["service"] for r in ent["rows"]} == {"ent"}
    assert ent["applied_filters"] == {"service": "ent"}
    week = admin.get("/api/indicators/daily_users?period=week").json()
    days = {r["day"] for r in week["rows"]}
    assert days and min(days) == "2026-03-16" and max(days) == "2026-03-20"
    custom = admin.get("/api/indicators/daily_users?start=2026-03-10&end=2026-03-11").json()
    assert {r["day"] for r in custom["rows"]} == {"2026-03-10", "2026-03-11"}
    students = admin.get("/api/indicators/adoption?population=student").json()
    assert {r["population"] for r in students["rows"]} == {"student"}


def test_web_api_rejects_bad_filters(admin: TestClient) -> None:
    assert admin.get("/api/indicators/adoption?start=yesterday").status_code == 400
    reversed_ = admin.get("/api/indicators/adoption?start=2026-03-10&end=2026-03-01")
    assert reversed_.status_code == 400
    assert "device" in admin.get("/api/indicators/devices?device=desktop").json()["detail"]
    assert admin.get("/api/indicators/nope").status_code == 404


def test_web_suppressed_cells_are_flagged_and_shown_as_less_than_k(admin: TestClient) -> None:
    data = admin.get("/api/indicators/adoption").json()
    withheld = [(r, t) for r, t in zip(data["rows"], data["text"], strict=True)
                if r["users_suppressed"]]
    assert withheld, "the small demo must have small cells"
    for row, text in withheld:
        assert row["users"] is None and row["penetration"] is None
        assert text["users"] == "<\u202f5"
    shown = [t for r, t in zip(data["rows"], data["text"], strict=True)
             if not r["people_suppressed"] and r["people"] >= 1000]
    assert all("\u202f" in t["people"] for t in shown)
    english = admin.get("/api/indicators/adoption?lang=en").json()
    assert any(t["users"] == "< 5" for t in english["text"])


def test_web_no_pseudonym_in_any_response(admin: TestClient, pseudonyms: set[str]) -> None:
    """Every shipped dashboard (read from `dashboards.toml`, so a new one is never left out), in
    both languages, and every indicator's JSON and CSV."""
    boards = load_dashboards(load_catalogue())
    assert {"overview", "trends", "nextcloud", "directory", "ingestion"} <= set(boards)
    bodies = []
    for board in boards:
        for lang in ("fr", "en"):
            page = admin.get(f"/dashboards/{board}?period=all&lang={lang}")
            assert page.status_code == 200, board
            bodies.append(page.text)
    for indicator in load_catalogue():
        bodies.append(admin.get(f"/api/indicators/{indicator}").text)
        bodies.append(admin.get(f"/api/indicators/{indicator}.csv").text)
    everything = "\n".join(bodies)
    assert not any(p in everything for p in pseudonyms)
    assert not re.search(r"\b[0-9a-f]{32}\b", everything)


def test_web_csv_export(admin: TestClient) -> None:
    """A withheld cell reads `< 5` in the export exactly where the API withholds it, for every
    indicator, whatever the page's language; other cells are the API's plain values."""
    response = admin.get("/api/indicators/adoption.csv?service=ent")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    data = admin.get("/api/indicators/adoption?service=ent").json()
    assert len(rows) == len(data["rows"]) > 0
    assert list(rows[0]) == ["service", "population", "users", "users_suppressed", "people",
                             "people_suppressed", "penetration", "penetration_suppressed"]
    assert any(r["users_suppressed"] == "True" for r in rows)
    assert all(r["users"] == "< 5" and r["penetration"] == "< 5"
               for r in rows if r["users_suppressed"] == "True")
    assert all(float(r["penetration"]) <= 1 and "," not in r["penetration"]
               for r in rows if r["penetration_suppressed"] == "False")
    assert assert_csv_withholds_as_the_api(response.text, data, 5) > 0
    withheld = 0
    for indicator in load_catalogue():
        for lang in ("fr", "en"):
            query = f"?period=all&lang={lang}"
            withheld += assert_csv_withholds_as_the_api(
                admin.get(f"/api/indicators/{indicator}.csv{query}").text,
                admin.get(f"/api/indicators/{indicator}{query}").json(), 5)
    assert withheld > 0


def test_web_dashboard_page(admin: TestClient) -> None:
    page = admin.get("/dashboards/ent?period=month&population=student")
    assert page.status_code == 200
    assert '<script src="/static/plotly.min.js">' in page.text
    found = re.search(r'href="/api/indicators/rhythm\.csv\?([^"]+)"', page.text)
    assert found is not None
    query = parse_qs(found.group(1).replace("&amp;", "&"))
    assert query == {"start": ["2026-03-01"], "end": ["2026-03-20"], "service": ["ent"],
                     "population": ["student"], "period": ["custom"], "lang": ["fr"]}
    assert "Cette année universitaire" in page.text
    english = admin.get("/dashboards/ent?period=month&lang=en")
    assert "This academic year" in english.text and 'lang="en"' in english.text
    assert "Français" in english.text
    assert admin.get("/dashboards/nope").status_code == 404
    assert admin.get("/dashboards/ent?period=decade").status_code == 400
    assert admin.get("/").headers["location"] == "/dashboards/overview"


def test_web_plotly_is_served_locally(admin: TestClient) -> None:
    response = admin.get("/static/plotly.min.js")
    assert response.status_code == 200 and len(response.content) > 1_000_000
    assert admin.get("/static/app.js").status_code == 200
    assert "/api/indicators/{indicator_id}" in admin.get("/openapi.json").json()["paths"]



def test_web_api_documentation_is_served_locally(admin: TestClient, anonymous: TestClient
                                                 ) -> None:
    """Swagger UI comes from the installed `swagger-ui-bundle`, not from a CDN (offline)."""
    page = admin.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/static/swagger/") for a in assets), assets
    for asset in assets:
        response = admin.get(asset)
        assert response.status_code == 200 and len(response.content) > 500, asset
    assert "SwaggerUIBundle" in admin.get("/static/swagger/swagger-ui-bundle.js").text
    assert admin.get("/static/swagger/index.html").status_code == 404
    assert admin.get("/static/swagger/..%2F..%2F__init__.py").status_code == 404
    assert anonymous.get("/static/swagger/swagger-ui.css").status_code == 401


@pytest.mark.parametrize("user", ["victor", "marc", "alice"])
def test_web_every_visible_dashboard_renders(app: FastAPI, user: str) -> None:
    with TestClient(app, follow_redirects=False) as client:
        login(client, user)
        page = client.get("/dashboards/overview")
        for board in re.findall(r'href="/dashboards/([a-z_-]+)"', page.text):
            assert client.get(f"/dashboards/{board}").status_code == 200


def test_web_authentication_dashboard_counts_single_sign_on_sources(
        admin: TestClient, demo: tuple[Config, Path]) -> None:
    """The Authentication page shows logins (CAS and Shibboleth IdP sources), not the page
    views of the services' own logs: its panels are fixed to those sources."""
    page = admin.get("/dashboards/auth")
    assert page.status_code == 200
    assert "<option>cas, idp</option>" in page.text  # the fixed, disabled source menu
    urls = re.findall(r'href="/api/indicators/[a-z_]+\.csv\?([^"]+)"', page.text)
    assert urls and all(parse_qs(u.replace("&amp;", "&"))["source"] == ["cas,idp"]
                        for u in urls)
    def events(**params: str) -> dict[str, int]:
        answer = admin.get("/api/indicators/devices", params=params).json()
        return {row["service"]: row["service_events"] for row in answer["rows"]}

    everything, logins = events(), events(source="cas,idp")
    assert set(logins) < set(everything)  # services only seen in their own logs are left out
    assert {"mail", "moodle_lms"} <= set(everything) - set(logins)  # IMAP, Moodle's own log
    assert all(logins[s] < everything[s] for s in ("helpdesk", "nextcloud", "webmail"))
    assert logins["ent"] == everything["ent"]  # the portal is seen through CAS only
    cas, idp = events(source="cas"), events(source="idp")
    assert all(cas.get(s, 0) + idp.get(s, 0) == n for s, n in logins.items())
    # An installation without a single sign-on source has no Authentication page.
    config, accounts = demo
    without = config.model_copy(update={"sources": [
        s for s in config.sources if s.name not in config.sign_on_sources()]})
    with TestClient(create_app(without, accounts=accounts, today=lambda: END),
                    follow_redirects=False) as client:
        login(client, "alice")
        assert client.get("/dashboards/auth").status_code == 404
        assert 'href="/dashboards/auth"' not in client.get("/dashboards/overview").text
