"""Running an indicator on DuckDB, and the checks every engine applies to its result.

`run` returns exact numbers, for the server and for tests; `publish` is what may leave the
server (small cells suppressed). Both engines go through `bind` (which filters become which
parameters) and `conform` (declared columns only, stable types, no pseudonym), so DuckDB and
Spark results can be compared cell by cell.
"""

from __future__ import annotations

import re
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from vigie.indicators.catalogue import Indicator, IndicatorError
from vigie.indicators.filters import (
    FILTER_PARAMETERS,
    LAST_DAY_SQL,
    Filters,
    Plan,
    make_plan,
)
from vigie.indicators.privacy import DEFAULT_K, suppress
from vigie.indicators.sqltext import parameters

__all__ = ["ParameterValue", "applied", "bind", "conform", "plan_for", "publish", "run"]

ParameterValue = date | str | int | None

_PSEUDONYM = r"^[0-9a-f]{32}$"

#: Empty stand-ins for optional lake tables: a lake without bad lines has no quarantine folder.
_OPTIONAL_VIEWS = {
    "quarantine": (
        "SELECT NULL::VARCHAR AS file, NULL::BIGINT AS line_no, NULL::BIGINT AS byte_offset, "
        "NULL::VARCHAR AS reason, NULL::VARCHAR AS format, NULL::TIMESTAMPTZ AS quarantined_at, "
        "NULL::DATE AS near_day, NULL::VARCHAR AS source WHERE false"
    ),
}


def applied(indicator: Indicator, filters: Filters | None = None, *,
            strict: bool = True) -> Filters:
    """The filters of one run that the indicator declares.

    A filter the indicator does not support is an error when `strict` (the user would believe
    the figures filtered); otherwise it is ignored, which suits a dashboard applying its global
    filters to indicators of different kinds.
    """
    filters = filters or Filters()
    unsupported = [f for f in filters.active() if f not in indicator.meta.filters]
    if unsupported and strict:
        supported = ", ".join(indicator.meta.filters) or "no filter"
        raise IndicatorError(f"indicator {indicator.id!r} cannot be filtered by "
                             f"{', '.join(unsupported)}; it supports {supported}")
    kept = {p for f in indicator.meta.filters for p in FILTER_PARAMETERS[f]}
    return Filters(**{name: value for name, value in filters.model_dump().items()
                      if name in kept})


def bind(sql: str, filters: Filters, *, k: int = DEFAULT_K) -> dict[str, ParameterValue]:
    """The parameter values of one run: exactly the parameters its SQL uses (`sql`, as
    `Indicator.expanded` wrote it for the run; `filters`, as `applied` kept them)."""
    values: dict[str, ParameterValue] = {}
    for name in sorted(parameters(sql)):
        if name == "k":
            values[name] = k
        elif any(name in params for params in FILTER_PARAMETERS.values()):
            values[name] = filters.value(name)
    return values


def conform(table: pa.Table, indicator: Indicator) -> pa.Table:
    """The declared columns in declared order, with engine-independent types.

    Counts become int64, ratios float64, values int64 or float64 (DuckDB sums are 128-bit,
    Spark's 64-bit; DuckDB's row_number is BIGINT, Spark's INT); integer dimensions become
    int64. A column the metadata does not declare is an error, and so is a text value shaped
    like a pseudonym: the last guard before anything is published.
    """
    got, declared = set(table.column_names), indicator.columns
    if got != set(declared):
        missing = sorted(set(declared) - got)
        extra = sorted(got - set(declared))
        raise IndicatorError(
            f"indicator {indicator.id!r} ({indicator.origin}): the SQL returns "
            f"{', '.join(table.column_names)}; missing {missing or 'none'}, "
            f"undeclared {extra or 'none'}")
    kinds = {m.column: m.kind for m in indicator.meta.measures}
    columns = []
    for name in declared:
        column = table[name]
        kind = kinds.get(name)
        if kind in ("people", "count") or (kind == "value" and pa.types.is_integer(column.type)):
            column = column.cast(pa.int64())
        elif kind in ("ratio", "value"):
            column = column.cast(pa.float64())
        elif pa.types.is_integer(column.type):
            column = column.cast(pa.int64())
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = column.cast(pa.string())
            if pc.any(pc.match_substring_regex(column, _PSEUDONYM)).as_py():
                raise IndicatorError(
                    f"indicator {indicator.id!r}: column {name!r} holds pseudonyms; "
                    "pseudonyms never leave the server")
        columns.append(column)
    return pa.table(columns, names=declared)


def plan_for(con: duckdb.DuckDBPyConnection, indicator: Indicator) -> Plan:
    """Which summaries a run of `indicator` may read on `con` (see `make_plan`); adds the
    optional views the connection lacks."""
    present = {row[0] for row in con.sql(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    for name, select in _OPTIONAL_VIEWS.items():
        if name not in present:
            con.execute(f"CREATE TEMP VIEW {name} AS {select}").fetchall()
    materialized = ({row[0] for row in con.sql("SELECT name FROM lake_summaries").fetchall()}
                    if "lake_summaries" in present else set())

    def last_day() -> date | None:
        last: date | None = con.sql(LAST_DAY_SQL).fetchall()[0][0]
        return last

    return make_plan(indicator.sql, present, materialized, last_day)


def run(indicator: Indicator, con: duckdb.DuckDBPyConnection, filters: Filters | None = None,
        *, k: int = DEFAULT_K, strict: bool = True) -> pa.Table:
    """The exact result of `indicator` on a connection from `vigie.warehouse.query.connect`.

    Not for publication: small cells are still there (see `publish`).
    """
    filters = applied(indicator, filters, strict=strict)
    sql = indicator.expanded(filters, plan_for(con, indicator))
    try:
        table = con.sql(sql, params=bind(sql, filters, k=k)).to_arrow_table()
    except duckdb.Error as exc:
        message = re.sub(r"\s+", " ", str(exc))
        raise IndicatorError(f"indicator {indicator.id!r} ({indicator.origin}) failed on "
                             f"DuckDB: {message}") from exc
    return conform(table, indicator)


def publish(indicator: Indicator, con: duckdb.DuckDBPyConnection,
            filters: Filters | None = None, *, k: int = DEFAULT_K,
            strict: bool = True) -> pa.Table:
    """The result of `indicator` as it may leave the server: cells below k suppressed."""
    return suppress(run(indicator, con, filters, k=k, strict=strict), indicator, k)
