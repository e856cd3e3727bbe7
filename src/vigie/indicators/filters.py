"""The filters a dashboard applies, and the named SQL parameters each one becomes.

Why named parameters: the same SQL text then runs on DuckDB (native `$name` parameters) and on
Spark (the parameters replaced by typed, escaped literals), and an indicator's SQL says in plain
sight which filters it honours. The convention for "no filter" is a NULL parameter, written in
SQL as `($service IS NULL OR service = $service)`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = [
    "FILTERED_RELATIONS",
    "FILTER_CONDITIONS",
    "FILTER_PARAMETERS",
    "PARAMETER_TYPES",
    "RESERVED_PARAMETERS",
    "FilterName",
    "Filters",
    "expand_filtered",
]

FilterName = Literal["period", "service", "population", "structure", "etape", "zone", "device"]

#: Filter name -> the SQL parameters it provides.
FILTER_PARAMETERS: dict[str, tuple[str, ...]] = {
    "period": ("start", "end"),
    "service": ("service",),
    "population": ("population",),
    "structure": ("structure",),
    "etape": ("etape",),
    "zone": ("zone",),
    "device": ("device",),
}

#: Filter name -> its condition on a relation that has the column (`day` for the period).
FILTER_CONDITIONS: dict[str, str] = {
    "period": "($start IS NULL OR day >= $start) AND ($end IS NULL OR day <= $end)",
    **{name: f"(${name} IS NULL OR {name} = ${name})"
       for name in ("service", "population", "structure", "etape", "zone", "device")},
}

#: Relations an indicator may select from already filtered by its declared filters, and the
#: filters each can take (`population_daily` has no service, zone or device).
FILTERED_RELATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "filtered_events": ("events", tuple(FILTER_CONDITIONS)),
    "filtered_daily": ("daily", tuple(FILTER_CONDITIONS)),
    "filtered_population": ("population_daily", ("period", "population", "structure", "etape")),
}

#: Parameters every indicator may use without declaring a filter: `$k`, the suppression
#: threshold (so a ranking can leave out segments too small to publish).
RESERVED_PARAMETERS: dict[str, str] = {"k": "integer"}

#: SQL type of every parameter (`date`, `text` or `integer`).
PARAMETER_TYPES: dict[str, str] = {
    "start": "date",
    "end": "date",
    **{name: "text" for name in ("service", "population", "structure", "etape", "zone", "device")},
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


def expand_filtered(sql: str, declared: Sequence[str]) -> str:
    """Replaces `filtered_events` / `filtered_population` by the relation filtered by `declared`.

    Indicators then say *what* they compute and their metadata says *by what* they can be
    filtered, instead of repeating the same conditions in every query.
    """
    for name, (relation, accepted) in FILTERED_RELATIONS.items():
        conditions = [FILTER_CONDITIONS[f] for f in declared if f in accepted] or ["true"]
        expansion = f"(SELECT * FROM {relation} WHERE {' AND '.join(conditions)})"
        sql = re.sub(rf"\b{name}\b", expansion, sql)
    return sql
