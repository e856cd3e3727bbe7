"""Dashboards as data: `dashboards.toml` lists dashboards, their panels and who may open them.

Why a data file rather than code: which indicators a university's decision-makers look at, in
which order and for which service, is an editorial choice each installation makes. The file is
checked against the indicator catalogue when the application starts, so a typo in an indicator,
a measure or a dimension is an error naming the dashboard and the panel, never an empty chart.

Access rule (documented in docs/web.md): roles are ordered viewer < manager < admin; a dashboard
declares the least role that may open it (default viewer). An indicator is readable through the
API by a role when it appears in a dashboard that role may open; admins read every indicator.
A manager restricted to structures reads only the indicators that can be filtered by structure.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigie.config import Role
from vigie.errors import VigieError
from vigie.indicators.catalogue import Indicator, Text

__all__ = [
    "ROLES",
    "Dashboard",
    "DashboardError",
    "Panel",
    "Role",
    "allowed",
    "fixed_filters",
    "indicators_for",
    "load_dashboards",
]

#: Roles from the least to the most privileged.
ROLES: tuple[Role, ...] = get_args(Role)
PanelChart = Literal["bar", "stacked_bar", "line", "heatmap", "table"]


class DashboardError(VigieError):
    """The dashboards file is wrong (names the dashboard, the panel and the key)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Panel(_Strict):
    """One indicator drawn on a dashboard, with hints on how to draw it."""

    indicator: str
    measure: str | None = None
    x: str | None = None
    color: str | None = None
    chart: PanelChart | None = None
    service: str | None = None
    title: Text | None = None


class Dashboard(_Strict):
    """A page of panels, optionally restricted to a role, fixed to one service, or to the
    events of the single sign-on sources (`sign_on`: logins, not page views)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    title: Text
    role: Role = "viewer"
    service: str | None = None
    sign_on: bool = False
    panels: tuple[Panel, ...] = Field(min_length=1)


class _File(_Strict):
    dashboards: tuple[Dashboard, ...] = Field(min_length=1)


def allowed(role: Role, needed: Role) -> bool:
    """Whether `role` is at least `needed` (viewer < manager < admin)."""
    return ROLES.index(role) >= ROLES.index(needed)


def _check_panel(where: str, dashboard: Dashboard, panel: Panel,
                 catalogue: Mapping[str, Indicator]) -> None:
    indicator = catalogue.get(panel.indicator)
    if indicator is None:
        raise DashboardError(f"{where}: indicator {panel.indicator!r} is not in the catalogue "
                             f"(known: {', '.join(sorted(catalogue))})")
    meta = indicator.meta
    measures = [m.column for m in meta.measures]
    if panel.measure is not None and panel.measure not in measures:
        raise DashboardError(f"{where}: measure {panel.measure!r} is not a measure of "
                             f"{indicator.id} ({', '.join(measures)})")
    for key in ("x", "color"):
        value = getattr(panel, key)
        if value is not None and value not in meta.dimensions:
            raise DashboardError(f"{where}: {key} {value!r} is not a dimension of "
                                 f"{indicator.id} ({', '.join(meta.dimensions)})")
    service = panel.service or dashboard.service
    if service is not None and "service" not in meta.filters:
        raise DashboardError(f"{where}: {indicator.id} has no service filter, so it cannot be "
                             f"fixed to service {service!r}")
    if dashboard.sign_on and "source" not in meta.filters:
        raise DashboardError(f"{where}: {indicator.id} has no source filter, so it cannot show "
                             "the single sign-on sources only (sign_on = true)")
    chart = panel.chart or meta.chart
    if chart == "heatmap" and "service" in meta.dimensions and service is None:
        raise DashboardError(f"{where}: a heatmap of {indicator.id} needs a fixed service")


def fixed_filters(dashboard: Dashboard, panel: Panel,
                  sign_on_sources: Sequence[str]) -> dict[str, str]:
    """The filters a panel's dashboard sets for it: the service, and for a `sign_on`
    dashboard the single sign-on sources (`source` filter, comma-separated)."""
    fixed = {}
    service = panel.service or dashboard.service
    if service is not None:
        fixed["service"] = service
    if dashboard.sign_on:
        fixed["source"] = ",".join(sign_on_sources)
    return fixed


def load_dashboards(catalogue: Mapping[str, Indicator],
                    path: Path | None = None) -> dict[str, Dashboard]:
    """The dashboards of `path` (default: the shipped `dashboards.toml`), checked, by id."""
    if path is None:
        text = resources.files("vigie.web").joinpath("dashboards.toml").read_text("utf-8")
        origin = "vigie/web/dashboards.toml"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DashboardError(f"cannot read dashboards file {path}: {exc.strerror}") from exc
        origin = str(path)
    try:
        parsed = _File.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise DashboardError(f"{origin}: not valid TOML ({exc})") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise DashboardError(f"{origin}: {problems}") from exc
    found: dict[str, Dashboard] = {}
    for dashboard in parsed.dashboards:
        if dashboard.id in found:
            raise DashboardError(f"{origin}: dashboard id {dashboard.id!r} is used twice")
        for n, panel in enumerate(dashboard.panels):
            _check_panel(f"{origin}: dashboard {dashboard.id!r}, panel {n + 1}", dashboard,
                         panel, catalogue)
        found[dashboard.id] = dashboard
    return found


def indicators_for(role: Role, dashboards: Mapping[str, Dashboard],
                   catalogue: Mapping[str, Indicator], *, restricted: bool = False) -> set[str]:
    """The indicator ids `role` may read: those of its dashboards; admins read all.

    `restricted` (a manager restricted to structures) keeps only the indicators with a
    `structure` filter: the others (ingestion quarantine, data quality per source) count the
    whole institution, which such a manager may not see.
    """
    if role == "admin":
        readable = set(catalogue)
    else:
        readable = {p.indicator for d in dashboards.values() if allowed(role, d.role)
                    for p in d.panels}
    if restricted:
        readable = {i for i in readable if "structure" in catalogue[i].meta.filters}
    return readable
