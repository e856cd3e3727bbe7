"""One end-to-end run in a real browser: Debian's Chromium driven by Playwright.

Skipped only when /usr/bin/chromium or the playwright package is missing (CI installs both;
`playwright install` is never needed: the system Chromium is used).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from tests.web.conftest import PASSWORDS

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ALL_DRAWN = ("[...document.querySelectorAll('section.panel')].every(s => s.dataset.done)"
             " && document.querySelectorAll('.js-plotly-plot').length >= 3")

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
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
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


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
        context = p.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=str(CHROMIUM), args=ARGS,
            accept_downloads=True, viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server}/dashboards/overview")
            assert "/login" in page.url
            page.fill("input[name=user]", "alice")
            page.fill("input[name=password]", PASSWORDS["alice"])
            page.click("form.login button[type=submit]")
            page.wait_for_url("**/dashboards/overview")
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
