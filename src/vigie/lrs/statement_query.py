"""The reading side shared by the statement stores: the SQL of a page of GET /statements, the
page and its `more` token, and the answer to a single-statement GET.

Why one SQL text for SQLite and PostgreSQL: the filters are plain index lookups on the `keys`
table and comparisons on `statements` columns, which both databases write the same; only the
placeholder (`?` or `%s`), the schema prefix of table names and the shape of an index row
differ (SQLite's hold the number of their term, looked up once per query in `terms`;
PostgreSQL's hold the term itself), and booleans travel as parameters (0/1 in SQLite,
`boolean` in PostgreSQL).

Why a page costs the same at 10,000 and 10 million statements: the query walks one index in
`seq` order and stops after `limit + 1` rows, whatever the number of matches.

- A filter on the `keys` table drives: the primary key (kind, value, broad, seq), or (term,
  seq), gives one value's rows in `seq` order. With `related_agents` / `related_activities`
  the narrow and the broad rows are two such ranges, merged in order (`UNION ALL … ORDER BY`,
  which both databases merge without sorting; a broad row whose statement also has a narrow
  one is skipped). Other
  filters are checked on each candidate (`EXISTS`, a primary-key lookup). The driving filter is
  the one expected to match least: registration, then agent, activity, verb.
- `since` and `until` become bounds on `seq`: `stored` grows with `seq` (`plan_batch` gives each
  statement a `stored` later than the last one's, under the tenant's write lock), so the
  statements stored after `since` are those after the last one stored at or before it, found
  in one step of the `stored` index. A comparison of `stored` on each row instead would, at
  best, scan every statement newer than `since` (half the store for a `since` in its middle).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from vigie.lrs.errors import NotFound
from vigie.lrs.formats import canonical_format, ids_format
from vigie.lrs.statement_batch import index_value, iso
from vigie.lrs.store import StatementQuery

__all__ = [
    "MAX_LIMIT",
    "bound_sql",
    "consistency_sql",
    "page",
    "page_limit",
    "page_sql",
    "single",
    "through",
]

#: Most statements per page unless the store is given another bound.
MAX_LIMIT = 500
#: Past every position: the bound of `consistency_sql` when any statement counts.
LAST_POSITION = 2**63 - 1
#: The consistency time of a tenant that has no statement yet.
_NOTHING_STORED = "1970-01-01T00:00:00.000000Z"
_ONE_MICROSECOND = timedelta(microseconds=1)


def bound_sql(prefix: str = "") -> str:
    """The consistency bound of a new query: the last `seq` visible when it begins."""
    return f"SELECT coalesce(max(seq), 0) FROM {prefix}statements"


def consistency_sql(prefix: str = "", param: str = "?") -> str:
    """The `stored` time of the newest statement at or before a position (parameter).

    The `X-Experience-API-Consistent-Through` of an answer is a time by which every statement
    stored is in the answer. The clock alone would not do: a statement whose `stored` time is
    set may still be committing, in this process or another one. Two cases (`through`):

    - No writer of the tenant holds its write lock at the moment `checked` when the store
      looks (SQLite: the `flock`; PostgreSQL: the advisory lock): then that moment. Writers
      take their clock reading after acquiring the lock, so a statement stored later gets a
      later time, and those committed before are visible to the query, which runs after.
    - A write is under way: the newest committed `stored` time, read by this SQL. Statements
      commit in `seq` order with growing `stored` times (one writer at a time per tenant, in
      any number of processes), so every statement stored by then is visible. Under a steady
      flow of writes it is milliseconds old.

    A `more` page keeps the time of its bound (this SQL at the bound): its answer is fixed when
    the first page is read. Clients such as the ADL suite wait until this header passes the
    time of their last write before trusting an empty answer; an idle store answers at once.
    Several server hosts on one database are as right as their clocks agree.
    """
    return (f"SELECT stored FROM {prefix}statements WHERE seq <= {param} "
            "ORDER BY seq DESC LIMIT 1")


def through(checked: datetime | None, newest: tuple[Any] | None) -> str:
    """The header value: the moment `checked` when no writer held the lock (a microsecond
    earlier, since a writer acquiring it at that very microsecond may store at that time),
    else from `consistency_sql`'s row (`stored` as text or as a datetime); the epoch for a
    tenant without statements."""
    if checked is not None:
        return iso(checked - _ONE_MICROSECOND)
    if newest is None:
        return _NOTHING_STORED
    stored = newest[0]
    return stored if isinstance(stored, str) else iso(stored)


def page_limit(query: StatementQuery, max_limit: int) -> int:
    return max_limit if query.limit <= 0 else min(query.limit, max_limit)


#: The filters answered from the `keys` table, in the order tried as the driving one.
_KEY_FILTERS = ("registration", "agent", "activity", "verb")


def page_sql(
    query: StatementQuery, *, limit: int, prefix: str = "", param: str = "?",
    pending: str | None = None, terms: str | None = None,
) -> tuple[str, list[Any]]:
    """SELECT seq, body of the page after `query.after` (bound set), one row beyond `limit`
    to tell whether more remain. `prefix` qualifies table names (`"lrs_x".` or nothing);
    `pending` names a second table of index rows, ordered by `seq`, that a store fills before
    moving its rows into `keys` (SQLite: `pending_keys`): filters read both. `terms` names the
    table numbering index terms when index rows hold a term's number (SQLite: `terms`)
    rather than its kind, value and broadness."""
    assert query.bound is not None, "set the bound with bound_sql first"
    filters = [(kind, index_value(value), related) for kind, value, related in (
        ("registration", query.registration and query.registration.lower(), True),
        ("agent", query.agent, query.related_agents),
        ("activity", query.activity, query.related_activities),
        ("verb", query.verb, True),
    ) if value is not None]
    order = "ASC" if query.ascending else "DESC"
    if not filters:
        where, params = _row_conditions(query, "s.seq", prefix, param)
        sql = (f"SELECT s.seq, s.body FROM {prefix}statements s WHERE {where} "
               f"ORDER BY s.seq {order} LIMIT {param}")
        return sql, [*params, limit + 1]
    tables = [f"{prefix}keys", *([f"{prefix}{pending}"] if pending else [])]
    term_table = None if terms is None else f"{prefix}{terms}"
    (kind, value, related), *others = filters
    arms: list[str] = []
    params = []
    for broad in (False, True) if related else (False,):
        for table in tables:
            where, arm_params = _row_conditions(query, "k.seq", prefix, param)
            row_is, row_params = _of_term("k", kind, value, broad, term_table, param)
            arm = (f"SELECT k.seq, s.body FROM {table} k CROSS JOIN {prefix}statements s "
                   f"WHERE s.seq = k.seq AND {row_is} AND {where}")
            params += [*row_params, *arm_params]
            if broad:  # skip a broad row whose statement also has a narrow one
                narrow_is, narrow_params = _of_term("n", kind, value, False, term_table, param)
                for narrow in tables:
                    arm += (f" AND NOT EXISTS (SELECT 1 FROM {narrow} n WHERE {narrow_is} "
                            "AND n.seq = k.seq)")
                    params += narrow_params
            for other_kind, other_value, other_related in others:
                other_is, other_params = _of_term(
                    "e", other_kind, other_value, None if other_related else False,
                    term_table, param)
                found = " OR ".join(f"EXISTS (SELECT 1 FROM {other} e WHERE {other_is} "
                                    "AND e.seq = k.seq)" for other in tables)
                arm += f" AND ({found})"
                params += other_params * len(tables)
            arms.append(arm)
    sql = f"{' UNION ALL '.join(arms)} ORDER BY 1 {order} LIMIT {param}"
    return sql, [*params, limit + 1]


def _of_term(
    alias: str, kind: str, value: str, broad: bool | None, terms: str | None, param: str
) -> tuple[str, list[Any]]:
    """The condition that index row `alias` is of (kind, value), narrow or broad as `broad`
    says (either when None), and its parameters: on the row's own columns, or on its term's
    number, found in `terms` (a lookup done once per query, before the index walk)."""
    if terms is None:
        sql = f"{alias}.kind = {param} AND {alias}.value = {param}"
        if broad is None:
            return sql, [kind, value]
        return f"{sql} AND {alias}.broad = {param}", [kind, value, broad]
    term = (f"(SELECT term FROM {terms} WHERE kind = {param} AND value = {param} "
            f"AND broad = {param})")
    if broad is None:
        return f"{alias}.term IN ({term}, {term})", [kind, value, False, kind, value, True]
    return f"{alias}.term = {term}", [kind, value, broad]


def _row_conditions(
    query: StatementQuery, seq: str, prefix: str, param: str
) -> tuple[str, list[Any]]:
    """The conditions on a candidate statement `s` whose position is `seq`: not voided, within
    the consistency bound, after the cursor, in the `since` / `until` range, of the reading
    credential (`statements/read/mine`)."""
    where = [f"s.voided = {param}", f"{seq} <= {param}"]
    params: list[Any] = [False, query.bound]
    if query.after is not None:
        where.append(f"{seq} {'>' if query.ascending else '<'} {param}")
        params.append(query.after)
    last_stored_by = (f"coalesce((SELECT m.seq FROM {prefix}statements m WHERE m.stored <= "
                      f"{param} ORDER BY m.stored DESC LIMIT 1), 0)")
    if query.since is not None:
        where.append(f"{seq} > {last_stored_by}")
        params.append(query.since)
    if query.until is not None:
        where.append(f"{seq} <= {last_stored_by}")
        params.append(query.until)
    if query.authority is not None:
        where.append(f"s.authority = {param}")
        params.append(index_value(query.authority))
    return " AND ".join(where), params


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
