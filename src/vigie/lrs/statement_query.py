"""The reading side shared by the statement stores: the SQL of a page of GET /statements, the
page and its `more` token, and the answer to a single-statement GET.

Why one SQL text for SQLite and PostgreSQL: the filters are plain index lookups on the `keys`
table and comparisons on `statements` columns, which both databases write the same; only the
placeholder (`?` or `%s`) and the schema prefix of table names differ, and booleans travel
as parameters (0/1 in SQLite, `boolean` in PostgreSQL).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from vigie.lrs.errors import NotFound
from vigie.lrs.formats import canonical_format, ids_format
from vigie.lrs.statement_batch import index_value
from vigie.lrs.store import StatementQuery

__all__ = ["MAX_LIMIT", "bound_sql", "page", "page_limit", "page_sql", "single"]

#: Most statements per page unless the store is given another bound.
MAX_LIMIT = 500


def bound_sql(prefix: str = "") -> str:
    """The consistency bound of a new query: the last `seq` visible when it begins."""
    return f"SELECT coalesce(max(seq), 0) FROM {prefix}statements"


def page_limit(query: StatementQuery, max_limit: int) -> int:
    return max_limit if query.limit <= 0 else min(query.limit, max_limit)


def page_sql(
    query: StatementQuery, *, limit: int, prefix: str = "", param: str = "?"
) -> tuple[str, list[Any]]:
    """SELECT seq, body of the page after `query.after` (bound set), one row beyond `limit`
    to tell whether more remain. `prefix` qualifies table names (`"lrs_x".` or nothing)."""
    assert query.bound is not None, "set the bound with bound_sql first"
    where = [f"s.voided = {param}", f"s.seq <= {param}"]
    params: list[Any] = [False, query.bound]
    if query.after is not None:
        where.append(f"s.seq {'>' if query.ascending else '<'} {param}")
        params.append(query.after)
    for kind, value, broad in (
        ("agent", query.agent, query.related_agents),
        ("verb", query.verb, True),
        ("activity", query.activity, query.related_activities),
        ("registration", query.registration and query.registration.lower(), True),
    ):
        if value is None:
            continue
        narrow = "" if broad else f" AND k.broad = {param}"
        where.append(
            f"s.seq IN (SELECT k.seq FROM {prefix}keys k WHERE k.kind = {param} "
            f"AND k.value = {param}{narrow})"
        )
        params += [kind, index_value(value), *([] if broad else [False])]
    for column, operator, value in (
        ("stored", ">", query.since), ("stored", "<=", query.until),
        ("authority", "=", query.authority and index_value(query.authority)),
    ):
        if value is not None:
            where.append(f"s.{column} {operator} {param}")
            params.append(value)
    order = "ASC" if query.ascending else "DESC"
    sql = (
        f"SELECT s.seq, s.body FROM {prefix}statements s WHERE {' AND '.join(where)} "
        f"ORDER BY s.seq {order} LIMIT {param}"
    )
    return sql, [*params, limit + 1]


def page(
    rows: list[tuple[int, str]], query: StatementQuery, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The statements of `page_sql`'s rows in the query's format, and the continuation token
    when there was a row beyond `limit`."""
    more = None
    if len(rows) > limit:
        rows = rows[:limit]
        more = replace(query, after=rows[-1][0]).token()
    return [_shape(json.loads(body), query) for _, body in rows], more


def single(statement_id: str, row: tuple[str, Any] | None, *, voided: bool) -> dict[str, Any]:
    """The statement of a (body, voided) row; `NotFound` when absent or of the other kind."""
    if row is None or bool(row[1]) != voided:
        if row is not None and row[1]:
            hint = " (it is voided: ask with voidedStatementId)"
        elif row is not None:
            hint = " (it is not voided: ask with statementId)"
        else:
            hint = ""
        raise NotFound(f"no statement {statement_id}{hint}")
    result: dict[str, Any] = json.loads(row[0])
    return result


def _shape(statement: dict[str, Any], query: StatementQuery) -> dict[str, Any]:
    if query.format == "ids":
        return ids_format(statement)
    if query.format == "canonical":
        return canonical_format(statement, query.languages)
    return statement
