"""`vigie report`: the dashboards of a period as one self-contained HTML file, to e-mail.

Why one HTML file rather than a PDF or a link: decision-makers read it offline, from a mail
attachment, without an account on the dashboards' server; its charts stay interactive (hover,
zoom, PNG export) and its tables are plain HTML, readable even where scripts are blocked.
Plotly's JavaScript is copied inline from the installed `plotly` package (about 4.8 MB, the
bulk of the file), so opening the report needs no network access and tells no third party who
reads it.

What it shows is exactly what the JSON API publishes: each panel is `publish_selection`'s
suppressed table (through `vigie.web.data.payload`, with the same filters a dashboard page gives
the panel), French numbers come from `render_fr` (`2 898`, `10,7 %`, `< 5`). Figures are built
here with Plotly's Python API, following `static/app.js` (a withheld bar is drawn at zero and
labelled `< 5`; holidays are shaded behind a line over days). Before writing, the page is
searched for anything shaped like a pseudonym, and the report is refused if one is found:
pseudonyms never leave the server.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

import typer

from vigie.config import Config, load_config
from vigie.errors import VigieError
from vigie.indicators.catalogue import SUPPRESSED_SUFFIX, Indicator, Measure
from vigie.privacy.pseudonym import PSEUDONYM_LENGTH
from vigie.web.dashboards import Dashboard, Panel, allowed, fixed_filters
from vigie.web.i18n import Lang, text, value_label
from vigie.web.params import Period, Selection, period_days

if TYPE_CHECKING:
    from vigie.web.data import LakeReader

__all__ = ["PRESETS", "ReportError", "french_date", "period_text", "report", "report_period",
           "write_report"]

#: Period presets of a report (`year` is accepted for `academic_year`, as on the dashboards).
PRESETS = ("academic_year", "month", "week", "custom")
_ALIASES = {"year": "academic_year"}
#: Rows of a panel's table reproduced in the report (the chart always draws them all).
MAX_TABLE_ROWS = 200
#: Tables longer than this start folded (`<details>`), so the charts come one after another.
OPEN_TABLE_ROWS = 25
_PSEUDONYM = re.compile(rf"\b[0-9a-fA-F]{{{PSEUDONYM_LENGTH}}}\b")
_PLOTLY_MARK = "/*vigie:plotly.js*/"

_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}
_WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_DIMENSIONS: dict[str, tuple[str, str]] = {
    "service": ("Service", "Service"),
    "population": ("Population", "Population"),
    "device": ("Terminal", "Device"),
    "zone": ("Zone réseau", "Network zone"),
    "place": ("Lieu", "Place"),
    "day": ("Jour", "Day"),
    "weekday": ("Jour de la semaine", "Weekday"),
    "hour": ("Heure", "Hour"),
    "source": ("Source", "Source"),
    "reason": ("Motif", "Reason"),
    "structure": ("Structure", "Structure"),
    "structure_label": ("Libellé", "Label"),
    "etape": ("Étape", "Study step"),
    "is_public_holiday": ("Férié", "Public holiday"),
    "is_school_holiday": ("Vacances scolaires", "School holiday"),
    "format": ("Format", "Format"),
    "last_event": ("Dernier accès", "Last event"),
    "status": ("État", "Status"),
    "week_start": ("Semaine du", "Week of"),
    "iso_year": ("Année (ISO)", "ISO year"),
    "iso_week": ("Semaine", "Week"),
    "academic_year": ("Année universitaire", "Academic year"),
    "academic_day": ("Jour de l’année universitaire", "Day of the academic year"),
}
_WORDS: dict[str, tuple[str, str]] = {
    "report": ("Rapport d’usage des services numériques", "Digital services usage report"),
    "period": ("Période", "Period"),
    "scope": ("Périmètre", "Scope"),
    "generated": ("Rapport établi le {date} par vigie.", "Report made on {date} by vigie."),
    "contents": ("Sommaire", "Contents"),
    "dashboards": ("Tableaux de bord", "Dashboards"),
    "service": ("Service", "Service"),
    "rows": ("{n} lignes", "{n} rows"),
    "one_row": ("1 ligne", "1 row"),
    "truncated": ("Seules les {shown} premières lignes sur {n} sont reproduites ici ; le "
                  "graphique les montre toutes.",
                  "Only the first {shown} of {n} rows are reproduced here; the chart shows "
                  "them all."),
    "no_period": ("Cet indicateur ne se filtre pas par période : il porte sur toutes les "
                  "données disponibles.",
                  "This indicator has no period filter: it covers all the data available."),
    "no_script": ("Graphique interactif : ouvrez ce fichier dans un navigateur web.",
                  "Interactive chart: open this file in a web browser."),
    "privacy_title": ("Protection des personnes", "Privacy"),
    "privacy": (
        "Pour qu’aucune personne ne puisse être reconnue, toute valeur qui compte moins de {k} "
        "personnes est masquée et remplacée par « < {k} » ; les taux et les comptes calculés à "
        "partir d’une valeur masquée le sont aussi. Dans les graphiques en barres, une valeur "
        "masquée est dessinée à zéro et porte l’étiquette « < {k} » ; dans les courbes, elle "
        "laisse un trou. Ce rapport ne contient que des résultats agrégés, exactement ceux que "
        "publie l’API de vigie : aucun identifiant de personne, même pseudonymisé.",
        "So that no one can be singled out, any value counting fewer than {k} people is "
        "withheld and shown as “< {k}”; rates and counts computed from a withheld value are "
        "withheld too. In bar charts a withheld value is drawn at zero and labelled “< {k}”; "
        "in line charts it leaves a gap. This report holds aggregated results only, exactly "
        "those vigie's API publishes: no identifier of any person, not even a pseudonym."),
    "yes": ("oui", "yes"),
    "no": ("non", "no"),
}


class ReportError(VigieError):
    """The report cannot be made as asked (bad period, dashboard or language)."""


def _w(key: str, lang: Lang) -> str:
    fr, en = _WORDS[key]
    return en if lang == "en" else fr


def french_date(day: date) -> str:
    """`2026-09-01` → `1er septembre 2026` (the ordinal for the first, as French writes it)."""
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {_MONTHS['fr'][day.month - 1]} {day.year}"


def _long_date(day: date, lang: Lang) -> str:
    if lang == "fr":
        return french_date(day)
    return f"{day.day} {_MONTHS['en'][day.month - 1]} {day.year}"


def period_text(start: date, end: date, lang: Lang = "fr") -> str:
    """`du 1er septembre 2026 au 22 novembre 2026` (`le …` for a single day)."""
    if start == end:
        return f"le {french_date(start)}" if lang == "fr" else f"on {_long_date(start, lang)}"
    if lang == "fr":
        return f"du {french_date(start)} au {french_date(end)}"
    return f"from {_long_date(start, lang)} to {_long_date(end, lang)}"


def _day(value: date | str | None, option: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ReportError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def report_period(period: str | None, today: date, *, start: date | str | None = None,
                  end: date | str | None = None) -> tuple[date, date]:
    """The first and last day (inclusive) of a report.

    `period` is `academic_year` (from 1 September; the default), `month` (the 1st to today),
    `week` (Monday to today), `custom` (with `start`, and `end` or today), or `FROM..TO`
    (two ISO dates). Without `period`, a `start` or `end` means `custom`.
    """
    first, last = _day(start, "--from"), _day(end, "--to")
    name = (period or "").strip()
    if ".." in name:
        if first or last:
            raise ReportError(f"--period {name!r} already gives the days: drop --from/--to")
        head, _, tail = name.partition("..")
        first, last, name = _day(head, "--period"), _day(tail, "--period"), "custom"
    name = _ALIASES.get(name, name) or ("custom" if first or last else "academic_year")
    if name not in PRESETS:
        raise ReportError(f"--period: {period!r} is not one of {', '.join(PRESETS)}, "
                          "nor FROM..TO (YYYY-MM-DD..YYYY-MM-DD)")
    if name != "custom":
        if first or last:
            raise ReportError(f"--from/--to make a custom period: drop --period {period}")
        preset: Period = ("year" if name == "academic_year"
                          else "month" if name == "month" else "week")
        a, b = period_days(preset, today)
        assert a is not None and b is not None
        return a, b
    if first is None:
        raise ReportError("a custom period needs its first day: --from YYYY-MM-DD")
    last = last or today
    if last < first:
        raise ReportError(f"the period ends ({last}) before it starts ({first})")
    return first, last


# -- figures -------------------------------------------------------------------------------

def _dimension(column: str, lang: Lang) -> str:
    labels = _DIMENSIONS.get(column)
    if labels is None:
        return column
    return labels[1] if lang == "en" else labels[0]


def _label(dim: str, value: Any, lang: Lang) -> str:
    """A dimension value for a reader (`weekday` 1 → `lundi`, `day` → `07/03/2026`)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return _w("yes" if value else "no", lang)
    if dim == "weekday" and isinstance(value, int) and 1 <= value <= 7:
        return _WEEKDAYS[lang][value - 1]
    if dim == "hour" and isinstance(value, int):
        return f"{value} h" if lang == "fr" else f"{value}:00"
    if dim in ("day", "week_start") and lang == "fr" and isinstance(value, str) \
            and len(value) == 10:
        year, month, day = value.split("-")
        return f"{day}/{month}/{year}"
    return value_label(str(value), lang)


def _plot_value(row: dict[str, Any], measure: Measure) -> float | None:
    if row.get(measure.column + SUPPRESSED_SUFFIX):
        return None
    value = row.get(measure.column)
    if value is None:
        return None
    return float(value) * 100 if measure.kind == "ratio" else float(value)


def _groups(rows: Sequence[dict[str, Any]], color: str | None) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = {}
    for i, row in enumerate(rows):
        out.setdefault(row[color] if color else "", []).append(i)
    return out


def _layout(measure: Measure, lang: Lang, x_title: str | None) -> dict[str, Any]:
    fr = lang == "fr"
    ratio = measure.kind == "ratio"
    return {
        "template": "none",
        "separators": ",\u202f" if fr else ".,",
        "margin": {"l": 64, "r": 16, "t": 10, "b": 60},
        "height": 360,
        "legend": {"orientation": "h", "y": -0.25},
        "yaxis": {"title": {"text": measure.label.en if lang == "en" else measure.label.fr},
                  "ticksuffix": ("\u202f%" if fr else "%") if ratio else "",
                  "rangemode": "tozero", "tickformat": ",.0f" if ratio else ",~r",
                  "gridcolor": "#e3e8ee", "zeroline": True, "zerolinecolor": "#9aa5b1"},
        "xaxis": {"automargin": True, "title": {"text": x_title or ""}},
        "font": {"family": "system-ui, 'DejaVu Sans', sans-serif", "size": 12},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
    }


#: Calendar flags shaded behind a line chart over days: (column, colour, French, English),
#: the same as `static/app.js` draws.
_HOLIDAYS: tuple[tuple[str, str, str, str], ...] = (
    ("is_school_holiday", "#f2b705", "Vacances scolaires", "School holidays"),
    ("is_public_holiday", "#d6336c", "Jours fériés", "Public holidays"),
)


def _holiday_runs(rows: Sequence[dict[str, Any]], column: str) -> list[tuple[date, date]]:
    """The runs of consecutive days flagged by `column` (the flags are the same for every
    service of a day, so the days are taken once)."""
    days = sorted({date.fromisoformat(str(row["day"])) for row in rows if row.get(column) is True})
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _holiday_bands(data: dict[str, Any], x: str, lang: Lang, layout: dict[str, Any]) -> None:
    """Shades public and school holidays behind a line chart over days, as app.js does.

    Why: a dip in daily use is read at once as a holiday rather than as a fall in use. Driven
    by the columns, not by the indicator: any indicator whose rows carry `day` and the calendar
    flags gets the bands when `day` is along the x axis. One rectangle per run of consecutive
    holiday days, from the noon before its first day to the noon after its last (a single day
    is a band one day wide centred on its point), and a note above the plot naming the colours
    (shapes have no legend entry in every Plotly version).
    """
    columns = data.get("columns") or []
    if x != "day" or "day" not in columns:
        return
    shapes: list[dict[str, Any]] = []
    notes: list[str] = []
    for column, colour, french, english in _HOLIDAYS:
        if column not in columns:
            continue
        name = english if lang == "en" else french
        runs = _holiday_runs(data["rows"], column)
        shapes += [{"type": "rect", "xref": "x", "yref": "paper",
                    "x0": f"{(first - timedelta(days=1)).isoformat()} 12:00",
                    "x1": f"{last.isoformat()} 12:00", "y0": 0, "y1": 1,
                    "fillcolor": colour, "opacity": 0.18, "line": {"width": 0},
                    "layer": "below", "name": name} for first, last in runs]
        if runs:
            notes.append(f'<span style="color:{colour}">\u25a0</span> {name}')
    if not shapes:
        return
    layout["shapes"] = shapes
    layout["annotations"] = [{"xref": "paper", "yref": "paper", "x": 1, "y": 1,
                              "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                              "text": "\u2003".join(notes), "font": {"size": 11}}]
    layout["margin"] = {**layout["margin"], "t": 28}


def _figure(data: dict[str, Any], spec: dict[str, Any], measure: Measure,
            lang: Lang) -> dict[str, Any]:
    """The Plotly figure of one panel, as app.js draws it, as a JSON-ready dict."""
    import plotly.graph_objects as go
    import plotly.io as pio

    rows: list[dict[str, Any]] = data["rows"]
    texts: list[dict[str, str]] = data["text"]
    x, color, chart = spec["x"], spec["color"], spec["chart"]
    name = measure.label.en if lang == "en" else measure.label.fr
    layout = _layout(measure, lang, _dimension(x, lang))
    traces: list[Any] = []
    if chart == "heatmap":
        z: list[list[float | None]] = [[None] * 24 for _ in range(7)]
        cells = [[""] * 24 for _ in range(7)]
        for row, row_text in zip(rows, texts, strict=True):
            d, h = row.get("weekday"), row.get("hour")
            if isinstance(d, int) and isinstance(h, int) and 1 <= d <= 7 and 0 <= h <= 23:
                z[d - 1][h] = _plot_value(row, measure)
                cells[d - 1][h] = row_text[measure.column]
        traces.append(go.Heatmap(
            z=z, text=cells, colorscale="Blues", reversescale=True, hoverongaps=False,
            x=[_label("hour", h, lang) for h in range(24)],
            y=[_label("weekday", d, lang) for d in range(1, 8)],
            hovertemplate="%{y} %{x}<br>%{text}<extra></extra>",
            colorbar={"title": {"text": name}}))
        layout["yaxis"] = {"autorange": "reversed"}
        layout["xaxis"] = {"title": {"text": _dimension("hour", lang)}}
        layout["margin"] = {"l": 90, "r": 16, "t": 10, "b": 50}
    elif chart == "line":
        for key, indexes in _groups(rows, color).items():
            ordered = sorted(indexes, key=lambda i: str(rows[i][x]))
            traces.append(go.Scatter(
                mode="lines+markers", marker={"size": 4},
                x=[rows[i][x] for i in ordered],
                y=[_plot_value(rows[i], measure) for i in ordered],
                customdata=[texts[i][measure.column] for i in ordered],
                name=_label(color, key, lang) if color else name,
                hovertemplate="%{x|" + ("%d/%m/%Y" if lang == "fr" else "%d %b %Y")
                              + "}<br>%{customdata}<extra>%{fullData.name}</extra>"))
        layout["xaxis"] = {"type": "date", "tickformat": "%d/%m" if lang == "fr" else "%d %b",
                           "title": {"text": _dimension(x, lang)}, "automargin": True}
        _holiday_bands(data, x, lang, layout)
    else:
        for key, indexes in _groups(rows, color).items():
            shown = [texts[i][measure.column] for i in indexes]
            withheld = [bool(rows[i].get(measure.column + SUPPRESSED_SUFFIX)) for i in indexes]
            traces.append(go.Bar(
                x=[_label(x, rows[i][x], lang) for i in indexes],
                y=[0.0 if w else _plot_value(rows[i], measure)
                   for i, w in zip(indexes, withheld, strict=True)],
                name=_label(color, key, lang) if color else name,
                text=[t if w else "" for t, w in zip(shown, withheld, strict=True)],
                textposition="outside", cliponaxis=False, customdata=shown,
                hovertemplate="%{x}<br>" + ("%{fullData.name} : " if color else "")
                              + "%{customdata}<extra></extra>"))
        layout["barmode"] = "stack" if chart == "stacked_bar" else "group"
    figure = go.Figure(data=traces, layout=layout)
    spec_json: dict[str, Any] = json.loads(pio.to_json(figure, validate=False,
                                                       remove_uids=True))
    return spec_json


def _script_json(value: Any) -> str:
    """JSON safe inside a `<script>` element (no `</script>`, no `<!--`)."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


# -- panels --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Context:
    config: Config
    catalogue: dict[str, Indicator]
    selection: Selection
    lang: Lang
    k: int
    reader: LakeReader
    #: The structures (with their sub-structures) every number comes from; None: all.
    structures: frozenset[str] | None = None


def _panel(ctx: _Context, board: Dashboard, panel: Panel, anchor: str) -> dict[str, Any]:
    from vigie.web.data import payload

    lang = ctx.lang
    indicator = ctx.catalogue[panel.indicator]
    meta = indicator.meta
    fixed_values = fixed_filters(board, panel, ctx.config.sign_on_sources())
    fixed = fixed_values.get("service")
    filters = ctx.selection.filters(fixed=fixed_values, keep=meta.filters)
    table = ctx.reader.published(indicator, filters, ctx.k, structures=ctx.structures)
    data = payload(table, indicator, filters, ctx.k, lang)
    dims = [d for d in meta.dimensions if not (d == "service" and fixed)]
    chart = panel.chart or meta.chart
    measure = indicator.measure(panel.measure or meta.measures[0].column)
    spec = {"x": panel.x or (dims[0] if dims else meta.dimensions[0]), "color": panel.color,
            "chart": chart}
    rows: list[dict[str, Any]] = data["rows"]
    figure = None
    if rows and chart != "table":
        figure = _script_json(_figure(data, spec, measure, lang))
    measures = {m.column: m for m in meta.measures}
    columns = [*dims, *measures]
    header = [{"label": (getattr(measures[c].label, lang) if c in measures
                         else _dimension(c, lang)), "num": c in measures} for c in columns]
    body = []
    for row, row_text in zip(rows[:MAX_TABLE_ROWS], data["text"], strict=False):
        body.append([
            {"text": row_text[c], "num": True,
             "suppressed": bool(row.get(c + SUPPRESSED_SUFFIX))} if c in measures
            else {"text": _label(c, row[c], lang), "num": False, "suppressed": False}
            for c in columns])
    n = len(rows)
    notes = ([] if "period" in meta.filters
             else [getattr(meta.coverage, lang) if meta.coverage else _w("no_period", lang)])
    if n > MAX_TABLE_ROWS:
        notes.append(_w("truncated", lang).format(shown=MAX_TABLE_ROWS, n=n))
    return {
        "anchor": anchor,
        "indicator": indicator.id,
        "title": getattr(panel.title or meta.title, lang),
        "description": getattr(meta.description, lang),
        "service": fixed,
        "chart": chart,
        "figure": figure,
        "header": header,
        "body": body,
        "count": _w("one_row", lang) if n == 1 else _w("rows", lang).format(n=n),
        "empty": n == 0,
        "open": chart == "table" or n <= OPEN_TABLE_ROWS,
        "notes": notes,
    }


def _choose(boards: dict[str, Dashboard], wanted: Sequence[str] | None) -> list[Dashboard]:
    if wanted is None:
        return [b for b in boards.values() if allowed("manager", b.role)]
    unknown = [d for d in wanted if d not in boards]
    if unknown:
        raise ReportError(f"unknown dashboard(s) {', '.join(unknown)}; known: "
                          f"{', '.join(boards)}")
    if not wanted:
        raise ReportError("no dashboard chosen")
    return [boards[d] for d in dict.fromkeys(wanted)]


def _scope(lake: Path, codes: Sequence[str] | None) -> tuple[frozenset[str] | None, str | None]:
    """The structures under `codes` and how the cover names them (None, None: everything)."""
    if not codes:
        return None, None
    from vigie.web.options import LakeMenus

    facts = LakeMenus(lake).get()
    unknown = [c for c in codes if c not in facts.structures]
    if unknown:
        known = ", ".join(sorted(facts.structures)[:20]) or "none"
        raise ReportError(f"--structure: unknown structure code(s) {', '.join(unknown)}; "
                          f"the directory knows {known}")
    return facts.below(codes), ", ".join(facts.structure_label(c) for c in dict.fromkeys(codes))


def _plotly_js() -> str:
    """`plotly.min.js` of the installed plotly package (its `package_data`), to inline."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:  # pragma: no cover - a broken plotly installation
        raise ReportError(f"plotly.min.js not found at {path}: reinstall plotly") from exc
    if re.search(r"</script", source, re.IGNORECASE):  # pragma: no cover - would end the tag
        raise ReportError(f"{path} contains '</script' and cannot be inlined")
    return source


def write_report(
    config: Config,
    out: Path,
    *,
    period: str | None = None,
    start: date | str | None = None,
    end: date | str | None = None,
    dashboards: Sequence[str] | None = None,
    lang: str = "fr",
    today: date | None = None,
    title: str | None = None,
    dashboards_file: Path | None = None,
    structures: Sequence[str] | None = None,
) -> Path:
    """Writes the dashboards of a period to `out`, one self-contained HTML file; returns `out`.

    Args:
        period: `academic_year` (default), `month`, `week`, `custom` or `FROM..TO` (see
            `report_period`); `start`/`end` give a custom period's days.
        dashboards: dashboard ids, in the order wanted; default: every dashboard a manager may
            open (all but the admin-only ones).
        lang: `fr` (default) or `en`.
        today: the current day (tests); default: today in the configured time zone.
        title: the institution named on the title page (default: none).
        dashboards_file: a dashboards file replacing the shipped one (as `vigie serve`).
        structures: structure codes (`supannCodeEntite`): every number is computed on the rows
            of these structures and their sub-structures only, as for a manager restricted to
            them in `vigie serve`, and the panels that cannot be restricted are left out (a
            report for a faculty's dean).
    """
    import jinja2

    from vigie.indicators.catalogue import load_catalogue
    from vigie.web.dashboards import load_dashboards
    from vigie.web.data import LakeReader

    if lang not in ("fr", "en"):
        raise ReportError(f"--lang: {lang!r} is not fr or en")
    language: Lang = "en" if lang == "en" else "fr"
    day = today or datetime.now(ZoneInfo(config.vigie.timezone)).date()
    first, last = report_period(period, day, start=start, end=end)
    catalogue = load_catalogue([config.path(f) for f in config.indicators.folders])
    boards = _choose(load_dashboards(catalogue, dashboards_file), dashboards)
    scope, scope_text = _scope(config.lake_path, structures)
    ctx = _Context(config, catalogue, Selection("custom", first, last), language,
                   config.indicators.k, LakeReader(config.lake_path), scope)
    sections = [{"id": board.id, "title": getattr(board.title, language),
                 "service": board.service,
                 "panels": [_panel(ctx, board, p, f"{board.id}-{n}")
                            for n, p in enumerate(board.panels, start=1)
                            if scope is None
                            or "structure" in catalogue[p.indicator].meta.filters]}
                for board in boards if not board.sign_on or config.sign_on_sources()]
    sections = [section for section in sections if section["panels"]]
    if not sections:
        raise ReportError("none of the chosen dashboards has a panel that can be restricted "
                          "to structures")
    templates = resources.files("vigie.web").joinpath("templates")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    page = env.get_template("report.html").render(
        lang=language, heading=_w("report", language), institution=title,
        period=period_text(first, last, language), period_word=_w("period", language),
        scope=scope_text, scope_word=_w("scope", language),
        generated=_w("generated", language).format(date=_long_date(day, language)),
        contents=_w("contents", language), colon="\u00a0: " if language == "fr" else ": ",
        service_word=_w("service", language),
        data_word=text("data", language), no_data=text("no_data", language),
        no_script=_w("no_script", language), k=ctx.k,
        short_note=text("suppressed_note", language).format(k=ctx.k),
        privacy_title=_w("privacy_title", language),
        privacy=_w("privacy", language).format(k=ctx.k),
        sections=sections, plotly_mark=_PLOTLY_MARK,
        start=first.isoformat(), end=last.isoformat())
    found = _PSEUDONYM.search(page)
    if found:
        raise ReportError(f"refusing to write {out}: the report holds a {PSEUDONYM_LENGTH}-"
                          f"hex string ({found.group()[:6]}…) that could be a pseudonym")
    before, mark, after = page.partition(_PLOTLY_MARK)
    assert mark, "report.html lost its plotly.js mark"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".vigie-report-", suffix=".html", dir=out.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(before)
            file.write(_plotly_js())
            file.write(after)
        os.chmod(name, 0o644)
        os.replace(name, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return out


# -- command line --------------------------------------------------------------------------

def _institution(config: Path) -> str | None:
    """A title from the configuration's file name (`univ-exemple.toml`), or its folder's
    name when the file has the generic name `vigie.toml`."""
    path = config.resolve()
    name = path.stem if path.stem not in ("vigie", "config") else path.parent.name
    return name or None


def report(
    config: Annotated[Path, typer.Option("--config", "-c",
                                         help="The TOML configuration file.")] = Path(
        "vigie.toml"),
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")
                      ] = Path("vigie-report.html"),
    period: Annotated[str | None, typer.Option(
        help="academic_year (from 1 September, the default), month, week, custom "
             "(with --from/--to), or FROM..TO.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")
                     ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD); default: "
                                                         "today.")] = None,
    dashboard: Annotated[list[str] | None, typer.Option(
        "--dashboard", help="A dashboard id (repeatable); default: all but admin-only ones.")
    ] = None,
    lang: Annotated[Literal["fr", "en"], typer.Option(help="Language: fr or en.")] = "fr",
    title: Annotated[str | None, typer.Option(
        help="The institution named on the title page; default: from the configuration "
             "file's name.")] = None,
    dashboards: Annotated[Path | None, typer.Option(
        help="A dashboards TOML file replacing the shipped one.")] = None,
    structure: Annotated[list[str] | None, typer.Option(
        "--structure", help="Only this structure code and its sub-structures (repeatable), "
                            "as for a manager restricted to them.")] = None,
) -> None:
    """Writes the dashboards of a period as one self-contained HTML file, to e-mail.

    Charts and tables are included (Plotly inline, about 5 MB): the file opens offline.
    Small counts of people are withheld exactly as the API publishes them.

    Example:  [bold]vigie report -c /etc/vigie/vigie.toml --period month -o rapport.html[/]
    Example:  [bold]vigie report -c vigie.toml --structure UFRST -o rapport-sciences.html[/]
    """
    from rich.console import Console

    try:
        cfg = load_config(config)
        path = write_report(cfg, output, period=period, start=start, end=end,
                            dashboards=dashboard, lang=lang,
                            title=title if title is not None else _institution(config),
                            dashboards_file=dashboards, structures=structure)
    except (VigieError, ValueError) as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    size = path.stat().st_size / 1e6
    Console().print(f"Report written to {path} ({size:.1f} MB).")
