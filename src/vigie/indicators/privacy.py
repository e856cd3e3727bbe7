"""Small-cell suppression, and French rendering of published numbers.

Why: a dashboard that says "2 students of structure X used the VPN at 3 a.m." can single people
out, even with pseudonyms. Every count of distinct people below *k* (default 5) is therefore
withheld, and so is everything computed from it: a ratio whose numerator or denominator is
withheld, and counts the indicator ties to a people count (`suppressed_with`). A withheld cell
stays NULL in its numeric column and is flagged in a companion boolean column
`<column>_suppressed`, so machines can tell "withheld" from "no data"; people read "< 5".

Secondary suppression, for indicators that declare `totals`: a total row published next to its
parts would give a withheld part back by subtraction. In every group with a published total,
what a reader can compute (the total minus the published parts) must cover no withheld part or
at least k people: otherwise the smallest published parts are withheld too, one at a time (a
published total has at least k people, so withholding every part is always enough). Differences
between two indicators, or between two filters of the same one, are not covered
(docs/indicators.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

import pyarrow as pa
import pyarrow.compute as pc

from vigie.indicators.catalogue import SUPPRESSED_SUFFIX, Indicator

__all__ = [
    "DEFAULT_K",
    "NNBSP",
    "format_fr",
    "format_number_fr",
    "format_percent_fr",
    "render_fr",
    "suppress",
    "suppressed_label",
]

DEFAULT_K = 5
#: Narrow no-break space, the French thousands separator (and before "%"), as CLDR has it.
NNBSP = "\u202f"


def _flags(table: pa.Table, indicator: Indicator, k: int) -> dict[str, pa.ChunkedArray]:
    """The suppression flag of every measure that can be suppressed, in dependency order."""
    flags: dict[str, pa.ChunkedArray] = {}
    measures = indicator.meta.measures
    for m in measures:
        if m.kind == "people":
            flags[m.column] = pc.fill_null(pc.less(table[m.column], k), False)
    if indicator.meta.totals:
        _protect_totals(table, indicator, flags, k)
    for m in measures:
        if m.suppressed_with:
            flag = flags[m.suppressed_with[0]]
            for other in m.suppressed_with[1:]:
                flag = pc.or_(flag, flags[other])
            flags[m.column] = flag
    for m in measures:
        if m.kind == "ratio":
            assert m.numerator is not None and m.denominator is not None
            parts = [flags[p] for p in (m.numerator, m.denominator) if p in flags]
            if parts:
                flag = parts[0] if len(parts) == 1 else pc.or_(parts[0], parts[1])
                flags[m.column] = flag
    return flags


def _protect_group(total: int, parts: list[int], values: list[int | None],
                   hidden: list[bool], k: int) -> bool:
    """Withholds more cells of one group until its recoverable remainder is safe; True if any."""
    if hidden[total] or values[total] is None or not any(hidden[i] for i in parts):
        return False
    shown = sorted((i for i in parts if not hidden[i] and values[i] is not None),
                   key=lambda i: values[i] or 0)
    changed = False
    while shown and (values[total] or 0) - sum(values[i] or 0 for i in shown) < k:
        hidden[shown.pop(0)] = True
        changed = True
    return changed


def _protect_totals(table: pa.Table, indicator: Indicator, flags: dict[str, pa.ChunkedArray],
                    k: int) -> None:
    """Secondary suppression of the people flags (see the module docstring), until stable:
    withholding a cell for one total dimension can expose it along another."""
    dimensions = indicator.meta.dimensions
    keys = table.select(list(dimensions)).to_pylist()
    people = list(flags)
    values = {c: table[c].to_pylist() for c in people}
    hidden = {c: flags[c].to_pylist() for c in people}
    groups: list[tuple[int, list[int]]] = []
    for dimension in indicator.meta.totals:
        others = [d for d in dimensions if d != dimension]
        members: dict[tuple[object, ...], list[int]] = {}
        for i, key in enumerate(keys):
            members.setdefault(tuple(key[d] for d in others), []).append(i)
        for rows in members.values():
            totals = [i for i in rows if keys[i][dimension] is None]
            if len(totals) == 1:
                groups.append((totals[0], [i for i in rows if keys[i][dimension] is not None]))
    changed = True
    while changed:
        changed = False
        for column in people:
            for total, parts in groups:
                changed |= _protect_group(total, parts, values[column], hidden[column], k)
    for column in people:
        flags[column] = pa.chunked_array([pa.array(hidden[column], pa.bool_())])


def suppress(table: pa.Table, indicator: Indicator, k: int = DEFAULT_K) -> pa.Table:
    """`table` as it may be published: withheld cells NULL, each flagged in `<col>_suppressed`.

    Every people measure gets a flag column (all False when nothing is withheld), so the shape of
    a published result does not depend on the data.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k}); k = 1 withholds only zeros")
    flags = _flags(table, indicator, k)
    columns: list[pa.ChunkedArray] = []
    names: list[str] = []
    for name in table.column_names:
        column = table[name]
        if name in flags:
            flag = flags[name]
            columns += [pc.if_else(flag, pa.scalar(None, column.type), column), flag]
            names += [name, name + SUPPRESSED_SUFFIX]
        else:
            columns.append(column)
            names.append(name)
    return pa.table(columns, names=names)


def suppressed_label(k: int = DEFAULT_K) -> str:
    """What a reader sees in place of a withheld cell: `< 5`."""
    return f"<{NNBSP}{k}"


def format_number_fr(value: float, *, decimals: int = 0) -> str:
    """`2898` → `2 898`, `3.25` (decimals=1) → `3,2`: French digits grouping and comma.

    Rounding is half-to-even on the decimal value, the same on every platform.
    """
    quantum = Decimal(1).scaleb(-decimals)
    number = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_EVEN)
    text = f"{abs(number):,.{decimals}f}".replace(",", NNBSP).replace(".", ",")
    return ("-" if number < 0 else "") + text


def format_percent_fr(share: float, *, decimals: int = 1) -> str:
    """A share in [0, 1] as a French percentage: `0.107` → `10,7 %`."""
    return f"{format_number_fr(share * 100, decimals=decimals)}{NNBSP}%"


def format_fr(value: float | None, kind: str, *, suppressed: bool = False,
              k: int = DEFAULT_K) -> str:
    """One published cell for a French reader: `< 5`, `2 898`, `10,7 %`, or `–` for no data.

    `kind` is the measure kind: ratios are percentages, people and counts whole numbers, values
    keep up to two decimals.
    """
    if suppressed:
        return suppressed_label(k)
    if value is None:
        return "–"
    if kind == "ratio":
        return format_percent_fr(value)
    if kind in ("people", "count"):
        return format_number_fr(value)
    decimals = 0 if float(value).is_integer() else 2
    return format_number_fr(value, decimals=decimals)


def render_fr(published: pa.Table, indicator: Indicator,
              k: int = DEFAULT_K) -> list[dict[str, str]]:
    """A suppressed table as rows of French text (dimensions as is, measures formatted)."""
    kinds: Mapping[str, str] = {m.column: m.kind for m in indicator.meta.measures}
    rows = []
    for row in published.to_pylist():
        out: dict[str, str] = {}
        for column in indicator.columns:
            value = row[column]
            if column in kinds:
                out[column] = format_fr(value, kinds[column], k=k,
                                        suppressed=bool(row.get(column + SUPPRESSED_SUFFIX)))
            else:
                out[column] = "–" if value is None else str(value)
        rows.append(out)
    return rows
