"""Where parsed fields become a canonical, enriched, pseudonymous event row.

Enrichment works on the *distinct* values of a chunk: each distinct login is pseudonymized
once, each distinct IP placed in a zone once, each distinct user agent classified once, each
distinct day looked up in the calendar once; the results are small tables that DuckDB joins
back to the chunk in one vectorized query. Raw identifiers, IPs and user agents stop here: the
SELECT that feeds the lake names only derived columns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from vigie.config import RouteConfig
from vigie.privacy.pseudonym import Pseudonymizer
from vigie.referential.calendar import calendar_table
from vigie.referential.devices import classify_user_agents
from vigie.referential.network import ZonePlan
from vigie.sources.compile import sql_str

__all__ = ["EVENT_COLUMNS", "Dimensions", "Enricher", "Lookup", "route_sql"]

#: The canonical event, in storage order (documented in docs/events.md).
EVENT_COLUMNS = (
    "ts", "day", "service", "source", "format", "action", "status", "user_pseudo",
    "population", "affiliations", "structure", "structure_label", "etape", "cursus_year",
    "zone", "device", "browser", "os", "weekday", "hour", "is_public_holiday",
    "is_school_holiday", "academic_year", "month",
)


#: The host of a URL target (`https://ent.univ.fr:443/x?y` → `ent.univ.fr`), computed once per
#: row with string functions (cheaper than a regular expression) for the routes that use it.
HOST_SQL = (
    "lower(split_part(split_part(split_part(split_part(split_part(split_part("
    "target, '://', 2), '/', 1), '?', 1), '#', 1), '@', -1), ':', 1))"
)


def route_sql(routes: list[RouteConfig], *, fixed: str | None, default: str) -> str:
    """SQL giving the service of each event from its routing `target` (and its host `_host`)."""
    if fixed is not None and not routes:
        return sql_str(fixed)
    cases = []
    for route in routes:
        if route.host is not None:
            cases.append(f"WHEN _host = {sql_str(route.host.lower())}")
        elif route.prefix is not None:
            cases.append(f"WHEN starts_with(target, {sql_str(route.prefix)})")
        else:
            assert route.pattern is not None
            cases.append(f"WHEN regexp_matches(target, {sql_str(route.pattern)})")
    whens = " ".join(f"{c} THEN {sql_str(r.service)}" for c, r in zip(cases, routes, strict=True))
    return f"CASE {whens} ELSE {sql_str(fixed or default)} END"


class Lookup:
    """A dimension computed once per distinct key and remembered for the whole run.

    `compute` turns an array of new keys into a table whose first column is the key. Chunks
    enriched by several threads share one lookup; a key is computed by whichever thread meets
    it first, and added once.
    """

    def __init__(self, name: str, compute: Callable[[pa.Array], pa.Table]) -> None:
        self.name = name
        self._compute = compute
        self._lock = threading.Lock()
        self.table: pa.Table | None = None

    def empty(self, keys: pa.Array) -> pa.Table:
        """The table with no row (its columns come from computing an empty key array)."""
        return self._compute(keys.slice(0, 0))

    def add(self, keys: pa.Array) -> None:
        """Computes and remembers the keys not known yet (`keys` distinct, without NULL)."""
        known = self.table
        if known is not None and len(keys):
            keys = keys.filter(pc.invert(pc.is_in(keys, value_set=known.column(0))))
        if not len(keys):
            return
        computed = self._compute(keys)
        with self._lock:  # another thread may have added some of them meanwhile
            if self.table is not None and self.table is not known:
                computed = computed.filter(pc.invert(pc.is_in(
                    computed.column(0), value_set=self.table.column(0))))
            if computed.num_rows:
                parts = [computed] if self.table is None else [self.table, computed]
                self.table = pa.concat_tables(parts).combine_chunks()


@dataclass
class Dimensions:
    """The lookups of one run, shared by every thread that enriches chunks."""

    users: Lookup
    zones: Lookup
    agents: Lookup
    days: Lookup

    @classmethod
    def create(cls, pseudonymizer: Pseudonymizer, zones: ZonePlan, school_zone: str,
               ) -> Dimensions:
        def calendar(dates: pa.Array) -> pa.Table:
            table = calendar_table(dates, school_zone=school_zone)
            return table.append_column("month", pc.strftime(table.column("date"), "%Y-%m"))

        return cls(
            users=Lookup("dim_user", pseudonymizer.table),
            zones=Lookup("dim_ip", lambda ips: pa.table({"ip": ips, "zone": zones.classify(ips)})),
            agents=Lookup("dim_ua", classify_user_agents),
            days=Lookup("dim_day", calendar),
        )


@dataclass
class Enricher:
    """Enriches chunks on one DuckDB connection (one per thread) with the run's dimensions."""

    con: duckdb.DuckDBPyConnection
    dimensions: Dimensions

    def __post_init__(self) -> None:
        # With a single directory snapshot (the usual case) an equality join does the as-of.
        snapshots = self.con.sql("SELECT count(DISTINCT valid_from) FROM people").fetchall()
        self._asof = snapshots[0][0] > 1

    def _register(self, lookup: Lookup, keys: pa.Array) -> None:
        """Adds `keys` (distinct) to `lookup`, then registers its table for this chunk's join."""
        lookup.add(keys.drop_null())
        # Nothing at all yet: an empty table of the right shape.
        self.con.register(lookup.name, lookup.table if lookup.table is not None
                          else lookup.empty(keys))

    def prepare_dimensions(self, parsed: pa.Table) -> None:
        """Builds the per-chunk lookup tables from the distinct values of `parsed`.

        `parsed` has the parsed fields and, computed once per row, `_local` (the local time:
        a time zone conversion is one of the costlier operations per row), `_day` and `_ukey`
        (the login as pseudonymized). Arrow finds the distinct values of each key in place
        (those of quarantined lines too: harmless, they are never stored).
        """
        dims = self.dimensions
        for lookup, column in ((dims.users, "_ukey"), (dims.zones, "ip"),
                               (dims.agents, "user_agent"), (dims.days, "_day")):
            values = parsed.column(column)
            if column == "user_agent":  # no user agent is classified as the empty one
                values = values.fill_null("")
            self._register(lookup, pc.unique(values))

    def events_sql(self, parsed: str, *, service: str, source: str, format_name: str) -> str:
        """The SELECT of canonical event rows for the good records of `parsed`."""
        return f"""
SELECT
  e.ts,
  d.date AS day,
  {service} AS service,
  {sql_str(source)} AS source,
  {sql_str(format_name)} AS format,
  e.action,
  TRY_CAST(e.status AS INTEGER) AS status,
  e._pseudo AS user_pseudo,
  CASE WHEN e._pseudo IS NULL THEN 'anonymous' ELSE coalesce(p.population, 'unknown') END
    AS population,
  p.affiliations, p.structure, p.structure_label, p.etape, p.cursus_year,
  coalesce(z.zone, 'unknown') AS zone,
  coalesce(a.device, 'other') AS device, a.browser, a.os,
  d.weekday, hour(e._local)::TINYINT AS hour,
  d.is_public_holiday, d.is_school_holiday, d.academic_year, d.month
FROM (
  SELECT g.*, coalesce(u.user_pseudo, t.user_pseudo) AS _pseudo,
    {HOST_SQL if "_host" in service else "NULL"} AS _host
  FROM {parsed} g
  LEFT JOIN dim_user u ON u.user = g._ukey
  LEFT JOIN traces t ON t.trace = g.trace
  WHERE g._reason IS NULL
) e
LEFT JOIN dim_ip z ON z.ip = e.ip
LEFT JOIN dim_ua a ON a.user_agent = coalesce(e.user_agent, '')
LEFT JOIN dim_day d ON d.date = e._day
{"ASOF LEFT JOIN" if self._asof else "LEFT JOIN"} people p ON p.user_pseudo = e._pseudo
  {"AND e._day >= p.valid_from" if self._asof else ""}
"""
