"""Published indicator results as JSON and CSV, the only data the web application sends.

Why one function for both the API and the charts: the browser draws exactly what the API
returns, which is `publish`'s suppressed table; nothing is computed from the lake on the way.
Rows keep the `<column>_suppressed` flags; `text` gives the same rows formatted for a reader
(French through `render_fr`: `2 898`, `10,7 %`, `< 5`); the CSV export writes `< 5` in a
withheld cell and plain numbers elsewhere. For a manager restricted to structures, the lake
connection itself only holds those structures' rows (`vigie.web.scope`).

The connections are kept while the lake's files do not change (`LakeReader`): a new one reads
the footers of thousands of files, about half a second on a lake of 100 million events, which
a dashboard must not pay at every panel.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from vigie.indicators.catalogue import SUPPRESSED_SUFFIX, Indicator
from vigie.indicators.engine import publish
from vigie.indicators.export import plain
from vigie.indicators.filters import Filters
from vigie.indicators.privacy import render_fr
from vigie.warehouse.layout import files_signature
from vigie.warehouse.query import connect
from vigie.web.i18n import VALUE_LABELS, Lang, format_cell
from vigie.web.scope import restrict

__all__ = ["STATUS_DIMENSION", "LakeReader", "describe", "payload",
           "warning_rows"]

#: A dimension saying whether a row needs attention (`ingestion_health`): a row whose status is
#: anything but `ok` is listed in the answer's `warnings`, and its table row is highlighted, so
#: a late source stands out without reading every cell.
STATUS_DIMENSION = "status"


class LakeReader:
    """The lake's DuckDB connections, one per manager restriction, kept until its files change.

    Requests share a connection through cursors (DuckDB's way to use one from several
    threads), so its caches of Parquet footers stay warm from panel to panel.
    """

    def __init__(self, lake: Path) -> None:
        self.lake = lake
        self._lock = threading.Lock()
        self._connections: dict[frozenset[str] | None, tuple[int, duckdb.DuckDBPyConnection]] = {}

    def cursor(self, structures: frozenset[str] | None = None) -> duckdb.DuckDBPyConnection:
        """A cursor on the current lake, restricted to `structures` when given."""
        signature = files_signature(self.lake)
        with self._lock:
            known = self._connections.get(structures)
            if known is None or known[0] != signature:
                con = connect(self.lake)
                if structures is not None:
                    restrict(con, structures)
                known = self._connections[structures] = (signature, con)
            return known[1].cursor()

    def published(self, indicator: Indicator, filters: Filters, k: int, *,
                  structures: frozenset[str] | None = None) -> pa.Table:
        """The suppressed result of one indicator (an error for a filter it does not
        declare), computed on the rows of `structures` only when given."""
        return publish(indicator, self.cursor(structures), filters, k=k)


def _text_rows(table: pa.Table, indicator: Indicator, lang: Lang, k: int
               ) -> list[dict[str, str]]:
    if lang == "fr":
        return render_fr(table, indicator, k)
    kinds = {m.column: m.kind for m in indicator.meta.measures}
    rows = []
    for row in table.to_pylist():
        rows.append({c: format_cell(row[c], kinds[c], lang, k=k,
                                    suppressed=bool(row.get(c + SUPPRESSED_SUFFIX)))
                     if c in kinds else ("–" if row[c] is None else str(plain(row[c])))
                     for c in indicator.columns})
    return rows


def warning_rows(table: pa.Table, indicator: Indicator) -> list[int]:
    """Indexes of the rows whose `status` is set and not `ok` (none without that dimension)."""
    if STATUS_DIMENSION not in indicator.meta.dimensions:
        return []
    return [i for i, status in enumerate(table[STATUS_DIMENSION].to_pylist())
            if status not in (None, "ok")]


def describe(indicator: Indicator, lang: Lang) -> dict[str, Any]:
    """What a reader needs to label a chart of the indicator."""
    meta = indicator.meta
    return {
        "id": indicator.id,
        "title": getattr(meta.title, lang),
        "description": getattr(meta.description, lang),
        "grain": meta.grain,
        "chart": meta.chart,
        "unit": meta.unit,
        "dimensions": list(meta.dimensions),
        "filters": list(meta.filters),
        "measures": [{"column": m.column, "kind": m.kind, "label": getattr(m.label, lang)}
                     for m in meta.measures],
    }


def payload(table: pa.Table, indicator: Indicator, filters: Filters, k: int,
            lang: Lang, *, structures: frozenset[str] | None = None) -> dict[str, Any]:
    """The JSON answer of `/api/indicators/{id}` (`structures`: the restriction applied)."""
    idx = 1 if lang == "en" else 0
    values = {v for row in table.select(list(indicator.meta.dimensions)).to_pylist()
              for v in row.values() if isinstance(v, str)}
    return {
        **describe(indicator, lang),
        "k": k,
        "lang": lang,
        "applied_filters": {k_: plain(v) for k_, v in filters.model_dump().items()
                            if v is not None},
        "restricted_to": None if structures is None else sorted(structures),
        "columns": table.column_names,
        "rows": [{c: plain(v) for c, v in row.items()} for row in table.to_pylist()],
        "text": _text_rows(table, indicator, lang, k),
        "warnings": warning_rows(table, indicator),
        "labels": {v: VALUE_LABELS[v][idx] for v in sorted(values) if v in VALUE_LABELS},
    }


