"""Filters from a query string: period presets and the indicator filters, shareable as a URL.

Why in the query string: a dashboard URL then reproduces exactly what its author saw, and the
browser's back button walks through filter changes. Presets are resolved against "today" on the
server (`week` = Monday to today, `month` = the 1st to today, `year` = the academic year, from
1 September), so the page and its CSV exports agree on the same days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, get_args
from urllib.parse import urlencode

from pydantic import ValidationError

from vigie.indicators.filters import TEXT_FILTERS, Filters

__all__ = ["PERIODS", "TEXT_FILTERS", "FilterError", "Period", "Selection", "parse_selection"]

Period = Literal["week", "month", "year", "all", "custom"]
PERIODS: tuple[Period, ...] = get_args(Period)


class FilterError(ValueError):
    """A query-string filter is malformed (answered 400 with this message)."""


@dataclass(frozen=True)
class Selection:
    """What the user chose: the period preset, its days, and the text filters set."""

    period: Period
    start: date | None
    end: date | None
    values: dict[str, str] = field(default_factory=dict)

    def filters(self, *, fixed: Mapping[str, str] | None = None,
                keep: tuple[str, ...] | None = None) -> Filters:
        """The indicator filters; `fixed` (a dashboard's) overrides the chosen ones; `keep`
        limits to the filters an indicator declares (the period is `period`)."""
        values: dict[str, object] = {**self.values, **(fixed or {})}
        values["start"], values["end"] = self.start, self.end
        if keep is not None:
            allowed = {"start", "end"} if "period" in keep else set()
            allowed |= set(keep)
            values = {k: v for k, v in values.items() if k in allowed}
        return Filters.model_validate(values)

    def query(self, **extra: str) -> str:
        """The query string that reproduces this selection (plus `extra`)."""
        items: dict[str, str] = {"period": self.period}
        if self.period == "custom":
            items.update({k: v.isoformat() for k, v in (("start", self.start),
                                                         ("end", self.end)) if v})
        items.update(self.values)
        items.update(extra)
        return urlencode(items)


def _academic_start(today: date) -> date:
    return date(today.year if today.month >= 9 else today.year - 1, 9, 1)


def period_days(period: Period, today: date) -> tuple[date | None, date | None]:
    """First and last day of a preset (inclusive); `all` has no bounds."""
    if period == "week":
        return today - timedelta(days=today.weekday()), today
    if period == "month":
        return today.replace(day=1), today
    if period == "year":
        return _academic_start(today), today
    return None, None


def _day(params: Mapping[str, str], key: str) -> date | None:
    value = params.get(key, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{key}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_selection(params: Mapping[str, str], today: date, *,
                    default: Period = "year") -> Selection:
    """The selection of a query string; explicit `start`/`end` imply a custom period."""
    start, end = _day(params, "start"), _day(params, "end")
    raw = params.get("period", "").strip()
    if raw and raw not in PERIODS:
        raise FilterError(f"period: {raw!r} is not one of {', '.join(PERIODS)}")
    period: Period = default
    if raw:
        period = raw
    elif start or end:
        period = "custom"
    if period != "custom":
        start, end = period_days(period, today)
    values = {k: params[k].strip() for k in TEXT_FILTERS if params.get(k, "").strip()}
    selection = Selection(period, start, end, values)
    try:
        selection.filters()
    except ValidationError as exc:
        raise FilterError("; ".join(e["msg"].removeprefix("Value error, ")
                                    for e in exc.errors())) from None
    return selection
