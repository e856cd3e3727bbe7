"""`vigie report`: one self-contained HTML file of the dashboards of a period.

The report is written once per module over the web tests' demo lake (300 people, 14 days ending
2026-03-20), then read back: sections, French formats, suppression as the API publishes it,
no pseudonym, nothing fetched from the network. One test opens it in Chromium (skipped only
when /usr/bin/chromium or playwright is missing). That lake has no holiday, so the shading of
holidays is checked on a second demo lake over the Toussaint holidays (`holiday_demo`, shared
with the browser tests).
"""

from __future__ import annotations

import json
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.web.conftest import END, HOLIDAY_BANDS, HOLIDAY_END, login
from vigie.config import Config
from vigie.indicators.catalogue import load_catalogue
from vigie.indicators.privacy import suppressed_label
from vigie.web.dashboards import fixed_filters, load_dashboards
from vigie.web.report import (
    MAX_TABLE_ROWS,
    ReportError,
    french_date,
    period_text,
    report,
    report_period,
    write_report,
)

CHROMIUM = Path("/usr/bin/chromium")
TITLE = "Université de démonstration"
YEAR_START = date(2025, 9, 1)
MANAGER_BOARDS = ["overview", "trends", "auth", "ent", "moodle", "mail", "helpdesk", "nextcloud",
                  "directory", "quality"]
_FIGURE = re.compile(r'<script type="application/json" class="figure" '
                     r'data-target="chart-([^"]+)">(.*?)</script>', re.S)


class _Page(HTMLParser):
    """The visible text, each panel's table (header, rows, suppressed flags), and every URL
    a script, link, image or frame would load."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.urls: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.suppressed: dict[str, int] = {}
        self.scripts: list[int] = []
        self._skip = 0
        self._panel: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._cell_suppressed = False
        self._script: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href", "srcset", "data", "poster", "action"):
            value = attributes.get(name)
            if value is not None:
                self.urls.append(value)
        if tag in ("script", "style"):
            self._skip += 1
            if tag == "script":
                self._script = []
        elif tag == "article":
            self._panel = attributes.get("id")
            assert self._panel
            self.tables[self._panel] = []
        elif tag == "tr" and self._panel:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._cell_suppressed = "suppressed" in (attributes.get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1
            if tag == "script" and self._script is not None:
                self.scripts.append(len("".join(self._script)))
                self._script = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            if self._cell_suppressed and self._panel:
                self.suppressed[self._panel] = self.suppressed.get(self._panel, 0) + 1
            self._cell = None
        elif tag == "tr" and self._row is not None and self._panel:
            self.tables[self._panel].append(self._row)
            self._row = None
        elif tag == "article":
            self._panel = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)
        if self._skip:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _visible(page: _Page) -> str:
    return re.sub(r"[ \t\r\n]+", " ", " ".join(page.text))  # keeps no-break spaces


def _figures(html: str) -> dict[str, dict[str, Any]]:
    """The Plotly figure of each charted panel, by anchor (`overview-1`)."""
    return {anchor: json.loads(figure) for anchor, figure in _FIGURE.findall(html)}


def _bands(figure: dict[str, Any]) -> list[tuple[str, str, str]]:
    shapes = figure["layout"].get("shapes", [])
    assert all(s["type"] == "rect" and s["xref"] == "x" and s["yref"] == "paper"
               and s["layer"] == "below" for s in shapes)
    return [(s["fillcolor"], s["x0"], s["x1"]) for s in shapes]


@pytest.fixture(scope="module")
def report_fr(demo: tuple[Config, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default report (French, academic year, manager dashboards) as of 2026-03-20."""
    out = tmp_path_factory.mktemp("report") / "sub" / "rapport.html"
    assert write_report(demo[0], out, today=END, title=TITLE) == out
    return out


@pytest.fixture(scope="module")
def page_fr(report_fr: Path) -> _Page:
    return _parse(report_fr.read_text(encoding="utf-8"))


def test_report_sections_in_french(report_fr: Path, page_fr: _Page) -> None:
    html = report_fr.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and '<html lang="fr">' in html
    text = _visible(page_fr)
    assert "Rapport d’usage des services numériques" in text
    assert TITLE in text
    assert "Période\u00a0: du 1er septembre 2025 au 20 mars 2026" in text
    assert "Rapport établi le 20 mars 2026 par vigie." in text
    catalogue = load_catalogue()
    boards = load_dashboards(catalogue)
    for board_id in MANAGER_BOARDS:
        board = boards[board_id]
        assert board.title.fr in text
        for n, panel in enumerate(board.panels, start=1):
            title = panel.title.fr if panel.title else catalogue[panel.indicator].meta.title.fr
            assert title in text
            assert f'id="{board_id}-{n}"' in html
    assert "Santé de l’ingestion" not in text  # admin-only: not in the default report
    assert "moins de 5 personnes est masquée" in text  # the footnote
    assert "Protection des personnes" in text
    assert "Service\u00a0: moodle" in text


def test_report_publishes_what_the_api_publishes(page_fr: _Page, admin: TestClient,
                                                  demo: tuple[Config, Path]) -> None:
    """Each panel's table holds, cell for cell, the API's `text` for the same filters (those
    its dashboard fixes: the service, the single sign-on sources of the Authentication page)."""
    sign_on = demo[0].sign_on_sources()
    assert sign_on == ["cas", "idp"]
    catalogue = load_catalogue()
    boards = load_dashboards(catalogue)
    label = suppressed_label(5)
    compared = 0
    for board_id in MANAGER_BOARDS:
        board = boards[board_id]
        for n, panel in enumerate(board.panels, start=1):
            indicator = catalogue[panel.indicator]
            params = ({"start": YEAR_START.isoformat(), "end": END.isoformat()}
                      if "period" in indicator.meta.filters else {})
            params.update(fixed_filters(board, panel, sign_on))
            answer = admin.get(f"/api/indicators/{indicator.id}?{urlencode(params)}")
            assert answer.status_code == 200, answer.text
            api_text = answer.json()["text"]
            header, *rows = page_fr.tables[f"{board_id}-{n}"]
            measures = [m.column for m in indicator.meta.measures]
            assert header[-len(measures):] == [m.label.fr for m in indicator.meta.measures]
            assert len(rows) == min(len(api_text), MAX_TABLE_ROWS)
            for row, expected in zip(rows, api_text, strict=False):
                assert row[-len(measures):] == [expected[m] for m in measures]
            withheld = sum(t[m] == label for t in api_text[:MAX_TABLE_ROWS] for m in measures)
            assert page_fr.suppressed.get(f"{board_id}-{n}", 0) == withheld
            compared += 1
    assert compared == sum(len(boards[b].panels) for b in MANAGER_BOARDS)
    assert sum(page_fr.suppressed.values()) > 50  # the demo lake has small cells
    assert label in _visible(page_fr)
    # French numbers: narrow no-break space between thousands, comma and "%".
    cells = {c for table in page_fr.tables.values() for row in table[1:] for c in row}
    assert any(re.fullmatch(r"\d{1,3}(\u202f\d{3})+", c) for c in cells)
    assert any(re.fullmatch(r"\d+,\d\u202f%", c) for c in cells)
    assert any(re.fullmatch(r"\d\d/03/2026", c) for c in cells)  # days as dd/mm/yyyy
    assert "lundi" in cells and "Étudiants" in cells  # readable dimension values


def test_report_never_holds_a_pseudonym(report_fr: Path, pseudonyms: set[str]) -> None:
    html = report_fr.read_text(encoding="utf-8")
    assert not any(p in html for p in pseudonyms)
    assert not re.search(r"\b[0-9a-fA-F]{32}\b", html)


def test_report_refuses_a_pseudonym_shaped_string(demo: tuple[Config, Path],
                                                  tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    with pytest.raises(ReportError, match="could be a pseudonym"):
        write_report(demo[0], out, today=END, dashboards=["helpdesk"],
                     title="0123456789abcdef0123456789abcdef")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_report_is_self_contained(report_fr: Path, page_fr: _Page) -> None:
    html = report_fr.read_text(encoding="utf-8")
    # Only in-page anchors and the empty data: icon; no script, style or image from anywhere.
    assert page_fr.urls and all(u.startswith("#") or u == "data:," for u in page_fr.urls)
    assert not re.search(r"<(script|img|iframe|link|embed|object)\b[^>]*\bsrc\s*=", html, re.I)
    assert "@import" not in html and not re.search(r"url\(\s*['\"]?https?:", html)
    # Plotly inline, once, at the top; then one figure per chart and the drawing script.
    assert page_fr.scripts[0] > 3_000_000
    assert html.count("plotly.js v") == 1
    assert html.index("plotly.js v") < html.index("<body>")
    assert all(size < 3_000_000 for size in page_fr.scripts[1:])
    size = report_fr.stat().st_size
    assert 4_000_000 < size < 8_000_000, size


def test_report_in_english(demo: tuple[Config, Path], tmp_path: Path) -> None:
    out = write_report(demo[0], tmp_path / "report.html", today=END, lang="en", period="month",
                       dashboards=["overview", "helpdesk"])
    html = out.read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    page = _parse(html)
    text = _visible(page)
    for words in ("Digital services usage report", "Period: from 1 March 2026 to 20 March 2026",
                  "Report made on 20 March 2026 by vigie.", "Overview", "Helpdesk",
                  "Daily active users", "fewer than 5 people is withheld", "Service: helpdesk",
                  "Students"):
        assert words in text, words
    assert "Vue d’ensemble" not in text and "Authentication" not in text
    assert sum(page.suppressed.values()) > 0
    cells = {c for table in page.tables.values() for row in table[1:] for c in row}
    assert "< 5" in cells  # the English label has a plain space
    assert any(re.fullmatch(r"\d+\.\d%", c) for c in cells)


def test_report_period_presets_and_french_dates() -> None:
    friday = date(2026, 3, 20)
    assert report_period(None, friday) == (YEAR_START, friday)
    assert report_period("academic_year", friday) == (YEAR_START, friday)
    assert report_period("year", friday) == (YEAR_START, friday)
    assert report_period("academic_year", date(2026, 9, 1)) == (date(2026, 9, 1),) * 2
    assert report_period("month", friday) == (date(2026, 3, 1), friday)
    assert report_period("week", friday) == (date(2026, 3, 16), friday)
    assert report_period(None, friday, start="2026-03-02") == (date(2026, 3, 2), friday)
    assert report_period("custom", friday, start=date(2026, 1, 5), end="2026-02-01") == (
        date(2026, 1, 5), date(2026, 2, 1))
    assert report_period("2026-01-05..2026-02-01", friday) == (date(2026, 1, 5),
                                                               date(2026, 2, 1))
    assert french_date(date(2026, 9, 1)) == "1er septembre 2026"
    assert french_date(date(2026, 8, 15)) == "15 août 2026"
    assert period_text(date(2026, 9, 1), date(2026, 11, 22)) == (
        "du 1er septembre 2026 au 22 novembre 2026")
    assert period_text(date(2026, 11, 22), date(2026, 11, 22)) == "le 22 novembre 2026"
    assert period_text(date(2026, 9, 1), date(2026, 11, 22), "en") == (
        "from 1 September 2026 to 22 November 2026")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"period": "quarter"}, r"'quarter' is not one of academic_year, month, week, custom"),
    ({"period": "custom"}, r"needs its first day: --from"),
    ({"start": "2026-13-01"}, r"--from: '2026-13-01' is not a date"),
    ({"start": "2026-03-10", "end": "2026-03-01"}, r"ends \(2026-03-01\) before it starts"),
    ({"period": "week", "start": "2026-03-10"}, r"--from/--to make a custom period"),
    ({"period": "2026-03-01..march"}, r"--period: 'march' is not a date"),
    ({"period": "2026-03-01..2026-03-05", "end": "2026-03-09"}, r"already gives the days"),
    ({"lang": "de"}, r"--lang: 'de' is not fr or en"),
    ({"dashboards": ["overview", "nope"]}, r"unknown dashboard\(s\) nope; known: overview"),
])
def test_report_bad_arguments_are_clear_errors(demo: tuple[Config, Path], tmp_path: Path,
                                               kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ReportError, match=message):
        write_report(demo[0], tmp_path / "r.html", today=END, **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "r.html").exists()


def test_report_chosen_dashboards_in_order(demo: tuple[Config, Path], tmp_path: Path) -> None:
    out = write_report(demo[0], tmp_path / "r.html", today=END, period="2026-03-16..2026-03-20",
                       dashboards=["ingestion", "ent"])
    page = _parse(out.read_text(encoding="utf-8"))
    text = _visible(page)
    assert "du 16 mars 2026 au 20 mars 2026" in text
    assert text.index("Santé de l’ingestion") < text.index("Rythme d’usage")
    assert list(page.tables) == ["ingestion-1", "ingestion-2", "ingestion-3", "ent-1", "ent-2",
                                 "ent-3", "ent-4", "ent-5"]
    assert "overview-1" not in page.tables
    # The quarantine has no period filter: the report says it covers everything.
    assert "Cet indicateur ne se filtre pas par période" in text
    overlay = _visible(_parse(write_report(
        demo[0], tmp_path / "t.html", today=END, period="2026-03-16..2026-03-20",
        dashboards=["trends"]).read_text(encoding="utf-8")))
    assert "il compare toujours la dernière année universitaire du lac" in overlay


def test_report_for_a_structure_publishes_what_its_manager_sees(
    demo: tuple[Config, Path], app: FastAPI, tmp_path: Path
) -> None:
    """`--structure UFRST`: the numbers of UFRST and its sub-structures only, cell for cell
    those the API gives a manager restricted to UFRST; panels that cannot be restricted (data
    quality per source) are left out, and the cover names the scope."""
    out = write_report(demo[0], tmp_path / "r.html", today=END, structures=["UFRST"],
                       dashboards=["overview", "quality"])
    page = _parse(out.read_text(encoding="utf-8"))
    assert "Périmètre : UFR Sciences et Technologies (UFRST)" in _visible(page).replace(
        "\u00a0", " ")
    catalogue = load_catalogue()
    boards = load_dashboards(catalogue)
    board = boards["overview"]
    kept = {f"{b}-{n}" for b in ("overview", "quality")
            for n, p in enumerate(boards[b].panels, start=1)
            if "structure" in catalogue[p.indicator].meta.filters}
    assert set(page.tables) == kept and "quality-1" not in kept  # data quality: per source
    whole = _parse(write_report(demo[0], tmp_path / "all.html", today=END,
                                dashboards=["overview"]).read_text(encoding="utf-8"))
    with TestClient(app, follow_redirects=False) as client:
        manon = login(client, "manon")
        for n, panel in enumerate(board.panels, start=1):
            indicator = catalogue[panel.indicator]
            params = {"start": YEAR_START.isoformat(), "end": END.isoformat()}
            answer = manon.get(f"/api/indicators/{indicator.id}?{urlencode(params)}")
            assert answer.status_code == 200, answer.text
            measures = [m.column for m in indicator.meta.measures]
            _, *rows = page.tables[f"overview-{n}"]
            expected = answer.json()["text"][:MAX_TABLE_ROWS]
            assert [row[-len(measures):] for row in rows] == [
                [t[m] for m in measures] for t in expected]
        assert page.tables != {k: v for k, v in whole.tables.items() if k in page.tables}


def test_report_unknown_structure_is_a_clear_error(demo: tuple[Config, Path],
                                                   tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"--structure: unknown structure code\(s\) NOPE; "
                                          r"the directory knows .*UFRST"):
        write_report(demo[0], tmp_path / "r.html", today=END, structures=["UFRST", "NOPE"])
    assert not (tmp_path / "r.html").exists()


def test_report_command(demo: tuple[Config, Path], tmp_path: Path) -> None:
    cli = typer.Typer(rich_markup_mode="rich")
    cli.command("report")(report)
    cli.callback()(lambda: None)
    runner = CliRunner()
    help_text = runner.invoke(cli, ["report", "--help"], env={"COLUMNS": "120"}).output
    assert "Example:" in help_text and "--period" in help_text and "--dashboard" in help_text
    config = demo[0].base_dir / "vigie.toml"
    assert config.is_file()
    out = tmp_path / "out" / "rapport.html"
    result = runner.invoke(cli, ["report", "-c", str(config), "--from", "2026-03-09",
                                 "--to", "2026-03-13", "--dashboard", "moodle",
                                 "--dashboard", "mail", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Report written to" in result.output
    text = _visible(_parse(out.read_text(encoding="utf-8")))
    assert "du 9 mars 2026 au 13 mars 2026" in text and "Messagerie" in text
    assert demo[0].base_dir.name in text  # the institution: the configuration's folder
    bad = runner.invoke(cli, ["report", "-c", str(config), "--period", "quarter", "-o",
                              str(tmp_path / "bad.html")])
    assert bad.exit_code == 2
    assert "is not one of academic_year" in bad.output and "Traceback" not in bad.output
    english = runner.invoke(cli, ["report", "-c", str(config), "--period", "week", "--lang",
                                  "en", "--title", "Demo U", "--dashboard", "ent", "-o",
                                  str(tmp_path / "en.html")])
    assert english.exit_code == 0, english.output
    assert "Demo U" in (tmp_path / "en.html").read_text(encoding="utf-8")


def test_report_draws_offline_in_chromium(report_fr: Path, page_fr: _Page) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    catalogue = load_catalogue()
    boards = load_dashboards(catalogue)
    charts = sum(1 for b in MANAGER_BOARDS for p in boards[b].panels
                 if (p.chart or catalogue[p.indicator].meta.chart) != "table")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update"])
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            fetched: list[str] = []

            def refuse(route: Any) -> None:
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    fetched.append(route.request.url)
                    route.abort()

            context.route("**/*", refuse)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report_fr.as_uri())
            page.wait_for_function(
                "[...document.querySelectorAll('.chart')].every("
                "c => c.dataset.state !== 'waiting')", timeout=30_000)
            states = page.evaluate(
                "[...document.querySelectorAll('.chart')].map(c => c.dataset.state)")
            plots = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
            bars = page.evaluate(
                "document.querySelector('#chart-overview-2').data.map(t => t.name)")
            heat = page.evaluate(
                "document.querySelectorAll('#chart-ent-2 .hm, #chart-ent-2 image').length")
        finally:
            browser.close()
    assert errors == [] and fetched == []
    assert states and set(states) == {"drawn"} and plots == len(states)
    assert len(states) == charts  # the quality panels are tables, not charts
    assert "Étudiants" in bars
    assert heat >= 1


def test_report_shades_holidays_on_daily_charts(holiday_demo: tuple[Config, Path],
                                                 report_fr: Path, tmp_path: Path) -> None:
    """Daily lines carry one band per run of school or public holidays, and a note naming
    them; a chart without the calendar flags (weekly users) or a period without holidays has
    none."""
    out = write_report(holiday_demo[0], tmp_path / "r.html", today=HOLIDAY_END,
                       period="2025-10-25..2025-11-14", dashboards=["overview", "ent"])
    figures = _figures(out.read_text(encoding="utf-8"))
    catalogue = load_catalogue()
    boards = load_dashboards(catalogue)
    daily = [f"{b}-{n}" for b in ("overview", "ent")
             for n, p in enumerate(boards[b].panels, start=1) if p.indicator == "daily_users"]
    assert daily == ["overview-1", "ent-1"]
    for anchor, figure in figures.items():
        if anchor in daily:
            assert _bands(figure) == HOLIDAY_BANDS, anchor
            (note,) = figure["layout"]["annotations"]
            assert "Vacances scolaires" in note["text"] and "Jours fériés" in note["text"]
        else:
            assert not _bands(figure), anchor
    assert "weekly_users" in {p.indicator for p in boards["overview"].panels}
    english = write_report(holiday_demo[0], tmp_path / "en.html", today=HOLIDAY_END,
                           period="2025-10-28..2025-11-05", dashboards=["ent"], lang="en")
    figure = _figures(english.read_text(encoding="utf-8"))["ent-1"]
    assert _bands(figure) == [("#f2b705", "2025-10-27 12:00", "2025-11-02 12:00"),
                              ("#d6336c", "2025-10-31 12:00", "2025-11-01 12:00")]
    assert figure["layout"]["annotations"][0]["text"].endswith("Public holidays")
    # The main lake (March 2026) has no holiday: its daily chart has no band and no note.
    march = _figures(report_fr.read_text(encoding="utf-8"))["overview-1"]
    assert not _bands(march) and "annotations" not in march["layout"]
