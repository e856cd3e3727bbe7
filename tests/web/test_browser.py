"""End-to-end runs in a real browser: Debian's Chromium driven by Playwright.

One run follows a user through the overview's filters; another opens every shipped dashboard
as an admin, on a demo lake over the Toussaint holidays (the main one has no holiday), checks
each panel drew, exports a PNG and finds the holidays shaded. Skipped only when
/usr/bin/chromium or the playwright package is missing (CI installs both; `playwright install`
is never needed: the system Chromium is used).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from tests.web.conftest import HOLIDAY_BANDS, HOLIDAY_END, PASSWORDS
from vigie.config import Config
from vigie.indicators.catalogue import Indicator, load_catalogue
from vigie.web.app import create_app
from vigie.web.dashboards import load_dashboards
from vigie.web.i18n import text

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ALL_DRAWN = ("[...document.querySelectorAll('section.panel')].every(s => s.dataset.done)"
             " && document.querySelectorAll('.js-plotly-plot').length >= 3")
ALL_DONE = "[...document.querySelectorAll('section.panel')].every(s => s.dataset.done)"
#: What each panel of a page shows, once `app.js` is done with it.
PANELS = """() => [...document.querySelectorAll('section.panel')].map(s => {
  const chart = s.querySelector('.chart');
  const layout = chart.layout || {};
  return {
    id: s.id, state: chart.dataset.state, text: chart.textContent.trim(),
    plot: chart.classList.contains('js-plotly-plot'),
    points: (chart.data || []).reduce((n, t) => n + (t.x || t.z || []).length, 0),
    rows: chart.querySelectorAll('table tbody tr').length,
    bands: (layout.shapes || []).map(b => [b.fillcolor, b.x0, b.x1]),
    drawn_bands: chart.querySelectorAll('.shapelayer path').length,
    note: (layout.annotations || []).map(a => a.text).join(' '),
  };
})"""
PNG = b"\x89PNG\r\n\x1a\n"

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")


@contextmanager
def _serve(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free local port, in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                             log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with _serve(app) as url:
        yield url


@pytest.fixture
def holiday_server(holiday_demo: tuple[Config, Path]) -> Iterator[str]:
    """The application over the holiday lake, as of its last day (2025-11-14)."""
    config, accounts = holiday_demo
    with _serve(create_app(config, accounts=accounts, today=lambda: HOLIDAY_END)) as url:
        yield url


def _browser(p: Any, profile: Path) -> Any:
    """One persistent context of the system Chromium (downloads accepted)."""
    return p.chromium.launch_persistent_context(
        profile, executable_path=str(CHROMIUM), args=ARGS, accept_downloads=True,
        viewport={"width": 1400, "height": 1000})


def _log_in(page: Any, server: str, target: str) -> None:
    """Opens `target`, is sent to the login form, and logs in as the admin alice."""
    page.goto(f"{server}{target}")
    assert "/login" in page.url
    page.fill("input[name=user]", "alice")
    page.fill("input[name=password]", PASSWORDS["alice"])
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"**{target}")


def _adoption_traces(page: Any) -> list[str]:
    names: list[str] = page.evaluate(
        "() => document.querySelector('#panel-2 .chart').data.map(t => t.name)")
    return names


def _daily_users_total(page: Any) -> float:
    """The sum of every point of the daily users chart (withheld points are null)."""
    total: float = page.evaluate(
        "() => document.querySelector('#panel-1 .chart').data"
        ".flatMap(t => t.y).reduce((a, y) => a + (y || 0), 0)")
    return total


def test_web_browser_dashboard(server: str, tmp_path: Path) -> None:
    with playwright_api.sync_playwright() as p:
        context = _browser(p, tmp_path / "profile")
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            _log_in(page, server, "/dashboards/overview")
            page.wait_for_function(ALL_DRAWN, timeout=20_000)
            before = _adoption_traces(page)
            assert len(before) > 2  # one series per population

            page.select_option("#f-population", "student")  # applies at once
            page.wait_for_url("**population=student**")
            page.wait_for_function(ALL_DRAWN, timeout=20_000)
            after = _adoption_traces(page)
            assert after == ["Étudiants"] and after != before

            with page.expect_download() as download:
                page.click("#panel-2 a.csv")
            saved = tmp_path / "adoption.csv"
            download.value.save_as(saved)
            lines = saved.read_text(encoding="utf-8").splitlines()
            assert lines[0].startswith("service,population,users,users_suppressed")
            assert all(",student," in line for line in lines[1:])

            students = _daily_users_total(page)
            assert page.locator("#f-structure option[value=UFRST]").inner_text() == (
                "UFR Sciences et Technologies (UFRST)")
            page.select_option("#f-structure", "UFRST")
            page.wait_for_url("**structure=UFRST**")
            page.wait_for_function(ALL_DRAWN, timeout=20_000)
            assert 0 < _daily_users_total(page) < students
            assert "population=student" in page.url

            page.click("header.top a.lang")
            page.wait_for_url("**lang=en**")
            page.wait_for_function(ALL_DRAWN, timeout=20_000)
            assert page.locator("h1").inner_text() == "Overview"
            assert "population=student" in page.url and "structure=UFRST" in page.url
            page.screenshot(path=str(tmp_path / "overview-en.png"), full_page=True)
            assert (tmp_path / "overview-en.png").stat().st_size > 10_000
            assert errors == []
        finally:
            context.close()


def _shades_holidays(indicator: Indicator) -> bool:
    """A line over days that carries the calendar flags gets the holiday bands."""
    meta = indicator.meta
    return meta.chart == "line" and {"day", "is_school_holiday"} <= set(meta.dimensions)


def test_web_browser_every_dashboard_draws(holiday_server: str, tmp_path: Path) -> None:
    """Every shipped dashboard, opened by an admin (who may open them all): each panel drew a
    chart with data, a table with rows, or says it has no data; no script or console error;
    a panel's PNG export downloads a PNG; daily charts shade the holidays, other charts not."""
    catalogue = load_catalogue()
    boards = load_dashboards(catalogue)
    no_data = text("no_data", "fr")
    seen: dict[str, int] = {"drawn": 0, "table": 0, "empty": 0}
    with playwright_api.sync_playwright() as p:
        context = _browser(p, tmp_path / "profile")
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
            page.on("console", lambda m: errors.append(f"{page.url}: {m.text}")
                    if m.type == "error" else None)
            _log_in(page, holiday_server, "/dashboards/overview")
            for board in boards.values():
                if not page.url.endswith(f"/dashboards/{board.id}"):
                    page.goto(f"{holiday_server}/dashboards/{board.id}")
                page.wait_for_function(ALL_DONE, timeout=20_000)
                panels = page.evaluate(PANELS)
                assert len(panels) == len(board.panels), board.id
                for spec, shown in zip(board.panels, panels, strict=True):
                    where = f"{board.id} {shown['id']} ({spec.indicator})"
                    state = shown["state"]
                    assert state in seen, f"{where}: {state} {shown['text']}"
                    seen[state] += 1
                    if state == "drawn":
                        assert shown["plot"] and shown["points"] > 0, where
                    elif state == "table":
                        assert shown["rows"] > 0, where
                    else:
                        assert shown["text"] == no_data, where
                    if _shades_holidays(catalogue[spec.indicator]):  # the period holds them
                        assert state == "drawn", where
                        assert shown["bands"] == [list(b) for b in HOLIDAY_BANDS], where
                        assert shown["drawn_bands"] == len(HOLIDAY_BANDS), where
                        assert "Vacances scolaires" in shown["note"], where
                        assert "Jours fériés" in shown["note"], where
                    else:
                        assert shown["bands"] == [] and shown["drawn_bands"] == 0, where
                if board.id == "overview":
                    with page.expect_download() as download:
                        page.click("#panel-1 button.png")
                    assert download.value.suggested_filename == "vigie-daily_users.png"
                    saved = tmp_path / "daily.png"
                    download.value.save_as(saved)
                    image = saved.read_bytes()
                    assert image.startswith(PNG)
                    assert struct.unpack(">II", image[16:24]) == (1200, 600)  # IHDR
        finally:
            context.close()
    assert errors == []
    assert seen["drawn"] > 20 and seen["table"] >= 5, seen
