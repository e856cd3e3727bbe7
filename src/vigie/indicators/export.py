"""The published rows of an indicator as CSV: the web's export and `vigie indicators -f csv`.

Both write the same file, so that a withheld cell reads `< k` wherever the rows leave the
server (pages, API text, reports, exports).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from vigie.indicators.catalogue import SUPPRESSED_SUFFIX

__all__ = ["csv_withheld", "plain", "to_csv"]


def plain(value: Any) -> Any:
    """A cell as machines read it: dates and times in ISO 8601, everything else as is."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def csv_withheld(k: int) -> str:
    """What a CSV export writes in a withheld cell: `< 5`, with a plain ASCII space.

    Why not the narrow no-break space of the French pages: a CSV is read by spreadsheets and
    scripts, for which the same bytes in both languages are easier to match than a typographic
    space; French and English readers both write `< 5`.
    """
    return f"< {k}"


def to_csv(table: pa.Table, k: int) -> str:
    """The published table as CSV: a withheld cell reads `< k`, everything else stays plain.

    Why `< k` rather than an empty cell: every published count of people below k reads `< k`
    in the pages, the API's `text`, the reports and the exports alike, and an empty cell would
    read as "no data" (which stays empty) once the file is opened in a spreadsheet. The rest is
    for machines, as the API's `rows`: numbers as Python writes them (dot decimal separator, no
    thousands grouping, ratios unrounded), dates in ISO 8601, flags `True`/`False`.

    The `<column>_suppressed` columns are kept, for three reasons: a program tells withheld
    cells by a boolean column without matching a text that depends on k; the columns are those
    of the API's `rows`, so one parser reads both; and an export's columns do not depend on the
    data, nor change for the scripts that already read them.
    """
    withheld = csv_withheld(k)
    flagged = [c for c in table.column_names if c + SUPPRESSED_SUFFIX in table.column_names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        for column in flagged:
            if row[column + SUPPRESSED_SUFFIX]:
                row[column] = withheld
        writer.writerow("" if v is None else plain(v) for v in row.values())
    return out.getvalue()
