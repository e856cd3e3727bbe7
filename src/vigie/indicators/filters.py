"""The filters a dashboard applies, and the named SQL parameters each one becomes.

Why named parameters: the same SQL text then runs on DuckDB (native `$name` parameters) and on
Spark (the parameters replaced by typed, escaped literals), and an indicator's SQL says in plain
sight which filters it honours. The convention for "no filter" is a NULL parameter, written in
SQL as `($service IS NULL OR service = $service)`.

Indicators select from `filtered_*` relations, expanded here for each run: the lake's tables
with the filters applied, or a summary of the lake (`vigie.warehouse.summaries`) computed from
the filtered rows of its source table, read from the summary itself when that gives the same
rows (`Plan`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from vigie.warehouse.summaries import SUMMARIES, Summary

__all__ = [
    "FILTERED_RELATIONS",
    "FILTER_CONDITIONS",
    "FILTER_PARAMETERS",
    "LAST_DAY_SQL",
    "NO_SUMMARIES",
    "PARAMETER_TYPES",
    "RESERVED_PARAMETERS",
    "TEXT_FILTERS",
    "FilterName",
    "Filters",
    "Plan",
    "expand_filtered",
    "make_plan",
]

FilterName = Literal["period", "service", "population", "structure", "etape", "zone", "device",
                     "source"]

#: The filters on a text column of the same name (all but the period), each one parameter.
TEXT_FILTERS = ("service", "population", "structure", "etape", "zone", "device", "source")

#: Filter name -> the SQL parameters it provides.
FILTER_PARAMETERS: dict[str, tuple[str, ...]] = {
    "period": ("start", "end"),
    **{name: (name,) for name in TEXT_FILTERS},
}

#: Filter name -> its condition on a relation that has the column (`day` for the period).
#: `source` takes one source or several separated by commas (the Authentication dashboard
#: shows every single sign-on source at once); `instr` and `||` mean the same on both engines.
FILTER_CONDITIONS: dict[str, str] = {
    "period": "($start IS NULL OR day >= $start) AND ($end IS NULL OR day <= $end)",
    **{name: f"(${name} IS NULL OR {name} = ${name})" for name in TEXT_FILTERS},
    "source": "($source IS NULL OR instr(',' || $source || ',', ',' || source || ',') > 0)",
}

#: Relations an indicator may select from already filtered by its declared filters, and the
#: filters each can take (`population_daily` has no service, zone or device). Each summary
#: of the lake is one more: `filtered_last_seen`, `filtered_daily_events`… (`_summary`).
FILTERED_RELATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "filtered_events": ("events", tuple(FILTER_CONDITIONS)),
    "filtered_daily": ("daily", tuple(FILTER_CONDITIONS)),
    "filtered_population": ("population_daily", ("period", "population", "structure", "etape")),
    # The services a penetration lists: those with events in the period, whoever used them,
    # so that a service no one of the filtered population used still shows its 0 %.
    "filtered_period_events": ("daily_events", ("period", "service")),
}

#: Parameters every indicator may use without declaring a filter: `$k`, the suppression
#: threshold (so a ranking can leave out segments too small to publish).
RESERVED_PARAMETERS: dict[str, str] = {"k": "integer"}

#: SQL type of every parameter (`date`, `text` or `integer`).
PARAMETER_TYPES: dict[str, str] = {
    "start": "date",
    "end": "date",
    **{name: "text" for name in TEXT_FILTERS},
    **RESERVED_PARAMETERS,
}


class Filters(BaseModel):
    """What the user asked to see; `None` everywhere means everything.

    The period is inclusive on both ends (`start <= day <= end`), in local days of the lake.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date | None = None
    end: date | None = None
    service: str | None = None
    population: str | None = None
    structure: str | None = None
    etape: str | None = None
    zone: str | None = None
    device: str | None = None
    #: One source name, or several separated by commas.
    source: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Filters:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"the period starts ({self.start}) after it ends ({self.end})")
        return self

    def active(self) -> list[str]:
        """Names of the filters that restrict something."""
        values = self.model_dump()
        return [name for name, params in FILTER_PARAMETERS.items()
                if any(values[p] is not None for p in params)]

    def value(self, parameter: str) -> date | str | None:
        """The value of one parameter (None: no filter)."""
        found: date | str | None = getattr(self, parameter)
        return found


@dataclass(frozen=True)
class Plan:
    """What one run may read from the summaries of its connection.

    `available`: the summaries the connection reads from their own files (a manager
    restricted to structures has none of those without a `structure` column); `last`: the
    last day of the lake's events, needed by the summaries that keep each person's last day.
    """

    available: frozenset[str] = frozenset()
    last: date | None = None


#: The plan that reads no summary: each is computed from its source table.
NO_SUMMARIES = Plan()


def _where(conditions: Sequence[str]) -> str:
    return " AND ".join(conditions) or "true"


def _summary(summary: Summary, declared: Sequence[str], filters: Filters | None,
             plan: Plan) -> str:
    """`summary` of the source rows that pass the declared filters.

    Read from the summary itself when it has a column for every filter set and the period
    suits it: any period for a summary by day; for `last_day`, a period running to the lake's
    last day (the people seen since its start are those whose last day is on or after it);
    for `first_day`, a period of whole months (see `_whole_months`). Otherwise computed from
    the filtered source rows, which gives the same rows.
    """
    def condition(name: str) -> str:
        if name == "period" and summary.window is not None:
            return summary.window[0]
        return FILTER_CONDITIONS[name]

    computed = "(" + summary.select(
        f"(SELECT * FROM {summary.source} "
        f"WHERE {_where([condition(f) for f in declared])})") + ")"
    if filters is None or summary.name not in plan.available:
        return computed
    columns = {"service", *summary.keys}
    conditions = []
    for name in declared:
        if name == "period" and summary.window is not None:
            conditions.append(summary.window[1])
        elif name == "period" and summary.day == "last_day":
            if plan.last is None or (filters.end is not None and filters.end < plan.last):
                return computed
            conditions.append("($start IS NULL OR last_day >= $start)")
        elif name == "period" and summary.day == "first_day":
            if not _whole_months(filters, plan.last):
                return computed
            conditions.append("($start IS NULL OR first_day >= $start) "
                              "AND ($end IS NULL OR first_day <= $end)")
        elif name == "period" or name in columns:
            conditions.append(FILTER_CONDITIONS[name])
        elif name in filters.active():
            return computed
    return f"(SELECT * FROM {summary.name} WHERE {_where(conditions)})"


def _whole_months(filters: Filters, last: date | None) -> bool:
    """Whether the period covers each of its months whole, as far as the lake goes: it starts
    on a first of the month (or has no start) and ends on a last of the month or on the
    lake's last day or after. A month's first day in the period is then its first day."""
    if filters.start is not None and filters.start.day != 1:
        return False
    end = filters.end
    return end is None or (last is not None and end >= last) or (end + timedelta(days=1)).day == 1


#: The lake's last day, asked of a connection when a plan needs it: `daily_events` has it,
#: keeps it under a manager's restriction, and is small.
LAST_DAY_SQL = "SELECT max(day) FROM daily_events"


def make_plan(sql: str, views: set[str], materialized: set[str],
              last_day: Callable[[], date | None]) -> Plan:
    """The plan of a run of `sql` (with its `filtered_*` relations) on a connection.

    `views`: the connection's views; `materialized`: the summaries it reads from their files
    (`vigie.warehouse.layout`); `last_day`: asks it for the lake's last day, only when a
    summary keeping people's first or last days is read.
    """
    available = frozenset(materialized & views)
    if any(re.search(rf"\bfiltered_{s.name}\b", sql) for s in SUMMARIES
           if s.day in ("first_day", "last_day") and s.name in available):
        return Plan(available, last_day())
    return Plan(available)


def expand_filtered(sql: str, declared: Sequence[str], filters: Filters | None = None,
                    plan: Plan = NO_SUMMARIES) -> str:
    """Replaces each `filtered_*` relation by its rows under the declared filters.

    Indicators then say *what* they compute and their metadata says *by what* they can be
    filtered, instead of repeating the same conditions in every query. Without `filters`
    (loading the catalogue), every summary is computed from its source table.
    """
    for name, (relation, accepted) in FILTERED_RELATIONS.items():
        conditions = [FILTER_CONDITIONS[f] for f in declared if f in accepted]
        sql = _replace(name, f"(SELECT * FROM {relation} WHERE {_where(conditions)})", sql)
    for summary in SUMMARIES:
        name = f"filtered_{summary.name}"
        if re.search(rf"\b{name}\b", sql):
            sql = _replace(name, _summary(summary, declared, filters, plan), sql)
    return sql


def _replace(name: str, expansion: str, sql: str) -> str:
    """`sql` with the word `name` replaced by `expansion`, taken literally."""
    return re.sub(rf"\b{name}\b", lambda _: expansion, sql)
