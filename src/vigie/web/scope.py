"""Row-level restriction of a lake connection to some structures, for restricted managers.

Why at the level of the lake's views rather than as one more filter: an indicator's SQL may read
`events`, `daily` or `population_daily` directly (to list the services of a period, to build a
denominator), and an installation's indicator may forget a condition. Replacing the views
themselves by their rows of the allowed structures restricts every query, whatever its SQL and
whatever filter the user sends. Views without a `structure` column (the LRS statements, the
quarantine) are dropped: what cannot be restricted is not shown, and an indicator that reads one
fails instead of counting the whole institution.
"""

from __future__ import annotations

import duckdb

__all__ = ["restrict"]

_PREFIX = "vigie_unscoped_"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def restrict(con: duckdb.DuckDBPyConnection, structures: frozenset[str]) -> None:
    """Keeps only the rows of `structures` in every view of `con` (from `connect`).

    Each view with a `structure` column is renamed and replaced by a view of its allowed rows
    under its own name; the views built on it (`population_daily` on `directory`) then read the
    restricted one. Rows without a structure are outside every restriction.
    """
    allowed = ", ".join(_literal(s) for s in sorted(structures))
    condition = f"structure IN ({allowed})" if allowed else "false"
    views = [r[0] for r in con.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'VIEW'").fetchall()]
    for view in views:
        columns = set(con.sql(f"SELECT * FROM {view} LIMIT 0").columns)
        if "structure" not in columns:
            con.execute(f"DROP VIEW {view}")
            continue
        con.execute(f"ALTER VIEW {view} RENAME TO {_PREFIX}{view}")
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM {_PREFIX}{view} WHERE {condition}")
