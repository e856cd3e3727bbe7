"""The indicator catalogue: one `.sql` query plus one `.toml` metadata file per indicator.

Why declarative (the dbt pattern): an indicator is reviewed, documented and tested as data; a
university adds its own by dropping two files in a folder listed in its configuration, without
code. Everything is checked when the catalogue is loaded, with errors that name the file and the
key, so a typo never reaches a dashboard:

* metadata keys are strict (an unknown key is an error);
* the SQL uses exactly the parameters of the filters it declares (plus the reserved `$k`);
* no column may be, or look like, a pseudonym: pseudonyms never leave the server;
* a ratio names the numerator and denominator columns it is computed from, so the privacy layer
  can suppress it when either is suppressed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vigie.errors import VigieError
from vigie.indicators.filters import (
    FILTER_PARAMETERS,
    NO_SUMMARIES,
    RESERVED_PARAMETERS,
    FilterName,
    Filters,
    Plan,
    expand_filtered,
)
from vigie.indicators.sqltext import parameters, split_statements

__all__ = [
    "FORBIDDEN_COLUMNS",
    "SUPPRESSED_SUFFIX",
    "Indicator",
    "IndicatorError",
    "IndicatorMeta",
    "Measure",
    "MeasureKind",
    "Text",
    "builtin_indicators",
    "catalogue_index",
    "load_catalogue",
    "load_folder",
    "parse_indicator",
]

MeasureKind = Literal["people", "count", "ratio", "value"]
Chart = Literal["bar", "stacked_bar", "line", "heatmap", "table", "pie"]
Unit = Literal["people", "events", "lines", "percent", "rank"]

#: Columns an indicator may never return, whatever its SQL: pseudonyms stay on the server.
FORBIDDEN_COLUMNS = frozenset({"user_pseudo", "pseudo", "login", "uid", "ip", "user_agent"})

_IDENTIFIER = r"^[a-z][a-z0-9_]*$"
SUPPRESSED_SUFFIX = "_suppressed"


class IndicatorError(VigieError):
    """An indicator definition is wrong, or cannot run with the filters asked for."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Text(_Strict):
    """A text in French and English (both required: vigie's dashboards are bilingual)."""

    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Measure(_Strict):
    """One numeric column of an indicator's result, and how privacy applies to it.

    `people` is a count of distinct people: below k it is suppressed. `count` (events, lines)
    and `value` are published as is, unless `suppressed_with` names people columns of the same
    row (then they are hidden whenever one of those is). `ratio` is `numerator / denominator`,
    suppressed when either is.
    """

    column: str = Field(pattern=_IDENTIFIER)
    kind: MeasureKind
    label: Text
    numerator: str | None = None
    denominator: str | None = None
    suppressed_with: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ratio_parts(self) -> Measure:
        has_parts = self.numerator is not None or self.denominator is not None
        if self.kind == "ratio" and (self.numerator is None or self.denominator is None):
            raise ValueError(f"ratio {self.column!r} needs 'numerator' and 'denominator'")
        if self.kind != "ratio" and has_parts:
            raise ValueError(f"only a ratio has 'numerator'/'denominator' ({self.column!r})")
        if self.kind in ("people", "ratio") and self.suppressed_with:
            raise ValueError(f"'suppressed_with' is for count and value measures "
                             f"({self.column!r} is a {self.kind})")
        return self


class IndicatorMeta(_Strict):
    """The metadata file of an indicator (`<id>.toml`)."""

    id: str = Field(pattern=_IDENTIFIER)
    title: Text
    description: Text
    grain: str = Field(pattern=r"^one row per ", description="'one row per …'")
    dimensions: tuple[str, ...]
    measures: tuple[Measure, ...] = Field(min_length=1)
    filters: tuple[FilterName, ...] = ()
    totals: tuple[str, ...] = Field(
        default=(), description="dimensions whose NULL rows total the other rows of their group")
    chart: Chart
    unit: Unit
    #: What an indicator without a period filter covers, when it is not all the data of the
    #: lake (said in reports, whose period it does not follow).
    coverage: Text | None = None

    @model_validator(mode="after")
    def _columns(self) -> IndicatorMeta:
        names = [*self.dimensions, *(m.column for m in self.measures)]
        for name in self.dimensions:
            if not re.match(_IDENTIFIER, name):
                raise ValueError(f"dimension {name!r} is not a lower-case SQL identifier")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"column(s) declared twice: {', '.join(duplicates)}")
        forbidden = [n for n in names if n in FORBIDDEN_COLUMNS or "pseudo" in n]
        if forbidden:
            raise ValueError(f"column(s) {', '.join(forbidden)} may not be published: "
                             "pseudonyms and raw identifiers never leave the server")
        reserved = [n for n in names if n.endswith(SUPPRESSED_SUFFIX)]
        if reserved:
            raise ValueError(f"column names ending in {SUPPRESSED_SUFFIX!r} are reserved for "
                             f"suppression flags: {', '.join(reserved)}")
        kinds = {m.column: m.kind for m in self.measures}
        for m in self.measures:
            for part in (m.numerator, m.denominator):
                if part is not None and kinds.get(part) not in ("people", "count", "value"):
                    raise ValueError(f"ratio {m.column!r}: {part!r} must be a people, count or "
                                     "value measure of this indicator")
            for people in m.suppressed_with:
                if kinds.get(people) != "people":
                    raise ValueError(f"{m.column!r}: suppressed_with {people!r} must be a "
                                     "people measure of this indicator")
        if len(set(self.filters)) != len(self.filters):
            raise ValueError("a filter is listed twice in 'filters'")
        for name in self.totals:
            if name not in self.dimensions:
                raise ValueError(f"totals: {name!r} is not a dimension of this indicator")
        if self.coverage is not None and "period" in self.filters:
            raise ValueError("coverage: only for an indicator without the period filter (the "
                             "period says what the others cover)")
        return self


@dataclass(frozen=True)
class Indicator:
    """A loaded indicator: its metadata, its SQL (with `filtered_*` relations), its origin."""

    meta: IndicatorMeta
    sql: str
    origin: str

    def expanded(self, filters: Filters | None = None, plan: Plan = NO_SUMMARIES) -> str:
        """The SQL of one run, its `filtered_*` relations expanded (see `expand_filtered`);
        without filters, every summary computed from its source table."""
        return expand_filtered(self.sql, self.meta.filters, filters, plan)

    @property
    def id(self) -> str:
        """The indicator's identifier (its file name)."""
        return self.meta.id

    @property
    def columns(self) -> list[str]:
        """The result's columns, in order: dimensions, then measures."""
        return [*self.meta.dimensions, *(m.column for m in self.meta.measures)]

    def measure(self, column: str) -> Measure:
        """The measure named `column`."""
        for m in self.meta.measures:
            if m.column == column:
                return m
        raise KeyError(column)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: "
        + e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    )


def parse_indicator(toml_text: str, sql: str, origin: str, *, stem: str) -> Indicator:
    """Validates one indicator given its two files' texts; `origin` names the metadata file."""
    try:
        data = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as exc:
        raise IndicatorError(f"indicator file {origin}: not valid TOML ({exc})") from exc
    try:
        meta = IndicatorMeta.model_validate(data)
    except ValidationError as exc:
        raise IndicatorError(f"indicator file {origin}: {_problems(exc)}") from exc
    if meta.id != stem:
        raise IndicatorError(f"indicator file {origin}: id: {meta.id!r} must match the file name "
                             f"({stem!r})")
    sql_origin = origin.removesuffix(".toml") + ".sql"
    statements = split_statements(sql)
    if len(statements) != 1:
        raise IndicatorError(f"indicator file {sql_origin}: expected exactly one SELECT "
                             f"statement, found {len(statements)}")
    used = parameters(expand_filtered(statements[0], meta.filters))
    if "" in used:
        raise IndicatorError(f"indicator file {sql_origin}: a '$' not followed by a parameter "
                             "name")
    declared = {p for f in meta.filters for p in FILTER_PARAMETERS[f]}
    unknown = sorted(used - declared - set(RESERVED_PARAMETERS))
    if unknown:
        known = {p: f for f, ps in FILTER_PARAMETERS.items() for p in ps}
        hints = [f"${p} (declare filter {known[p]!r} in 'filters')" if p in known
                 else f"${p} (no such parameter)" for p in unknown]
        raise IndicatorError(f"indicator file {sql_origin}: uses {', '.join(hints)}")
    unused = sorted(declared - used)
    if unused:
        raise IndicatorError(
            f"indicator file {origin}: filters: the SQL never uses "
            f"{', '.join('$' + p for p in unused)}, so the filter would silently do nothing")
    return Indicator(meta=meta, sql=statements[0].strip(), origin=origin)


def _entries(folder: Traversable) -> Iterable[Traversable]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            if not entry.name.startswith(("_", ".")):
                yield from _entries(entry)
        else:
            yield entry


def load_folder(folder: Traversable | Path) -> dict[str, Indicator]:
    """Every indicator of one folder (and its sub-folders), keyed by id."""
    if isinstance(folder, Path) and not folder.is_dir():
        raise IndicatorError(f"indicator folder {folder} does not exist or is not a folder")
    files = {str(e): e for e in _entries(folder) if e.name.endswith((".toml", ".sql"))}
    found: dict[str, Indicator] = {}
    for path, entry in files.items():
        base, _, suffix = path.rpartition(".")
        other = "sql" if suffix == "toml" else "toml"
        partner = files.get(f"{base}.{other}")
        if partner is None:
            raise IndicatorError(f"indicator file {path}: its companion "
                                 f"{base.rsplit('/', 1)[-1]}.{other} is missing "
                                 "(an indicator is one .sql and one .toml file)")
        if suffix == "sql":
            continue
        indicator = parse_indicator(entry.read_text(encoding="utf-8"),
                                    partner.read_text(encoding="utf-8"), path,
                                    stem=entry.name.removesuffix(".toml"))
        if indicator.id in found:
            raise IndicatorError(f"indicator file {path}: id {indicator.id!r} is already "
                                 f"defined in {found[indicator.id].origin}")
        found[indicator.id] = indicator
    return found


def builtin_indicators() -> dict[str, Indicator]:
    """The indicators shipped with vigie (`vigie/indicators/catalogue/`)."""
    return load_folder(resources.files("vigie.indicators").joinpath("catalogue"))


def load_catalogue(extra_folders: Sequence[Path] = ()) -> dict[str, Indicator]:
    """Shipped indicators plus those of an installation's folders.

    An installation's indicator may not reuse a shipped id: a dashboard that says "adoption"
    means the same query in every university.
    """
    catalogue = builtin_indicators()
    for folder in extra_folders:
        for key, indicator in load_folder(folder).items():
            if key in catalogue:
                raise IndicatorError(f"indicator file {indicator.origin}: id {key!r} is already "
                                     f"defined in {catalogue[key].origin}; choose another id")
            catalogue[key] = indicator
    return catalogue


def catalogue_index(catalogue: Mapping[str, Indicator]) -> list[dict[str, str]]:
    """A short listing (id, French and English titles) for `vigie indicators --list`."""
    return [{"id": i.id, "fr": i.meta.title.fr, "en": i.meta.title.en}
            for i in sorted(catalogue.values(), key=lambda i: i.id)]
