"""Where parsed fields become a canonical, enriched, pseudonymous event row.

Enrichment works on the *distinct* values of a chunk: each distinct login is pseudonymized
once, each distinct IP placed in a zone once, each distinct user agent classified once, each
distinct day looked up in the calendar once; the results are small tables that DuckDB joins
back to the chunk in one vectorized query. Raw identifiers, IPs and user agents stop here: the
SELECT that feeds the lake names only derived columns.
"""

from __future__ import annotations

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

__all__ = ["EVENT_COLUMNS", "Enricher", "route_sql"]

#: The canonical event, in storage order (documented in docs/events.md).
EVENT_COLUMNS = (
    "ts", "day", "service", "source", "format", "action", "status", "user_pseudo",
    "population", "affiliations", "structure", "structure_label", "etape", "cursus_year",
    "zone", "device", "browser", "os", "weekday", "hour", "is_public_holiday",
    "is_school_holiday", "academic_year", "month",
)


def route_sql(routes: list[RouteConfig], *, fixed: str | None, default: str) -> str:
    """SQL giving the service of each event from the routing target column `target`."""
    if fixed is not None and not routes:
        return sql_str(fixed)
    host = r"lower(regexp_extract(target, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1))"
    cases = []
    for route in routes:
        if route.host is not None:
            cases.append(f"WHEN {host} = {sql_str(route.host.lower())}")
        elif route.prefix is not None:
            cases.append(f"WHEN starts_with(target, {sql_str(route.prefix)})")
        else:
            assert route.pattern is not None
            cases.append(f"WHEN regexp_matches(target, {sql_str(route.pattern)})")
    whens = " ".join(f"{c} THEN {sql_str(r.service)}" for c, r in zip(cases, routes, strict=True))
    return f"CASE {whens} ELSE {sql_str(fixed or default)} END"


@dataclass
class Enricher:
    """Everything a chunk is enriched with, prepared once per run."""

    con: duckdb.DuckDBPyConnection
    timezone: str
    school_zone: str
    zones: ZonePlan
    pseudonymizer: Pseudonymizer

    def __post_init__(self) -> None:
        self._register("dim_user", self.pseudonymizer.known())
        # With a single directory snapshot (the usual case) an equality join does the as-of.
        snapshots = self.con.sql("SELECT count(DISTINCT valid_from) FROM people").fetchall()
        self._asof = snapshots[0][0] > 1

    def _register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def prepare_dimensions(self, parsed: str) -> None:
        """Builds the per-chunk lookup tables from the distinct values of `parsed`.

        `parsed` has the parsed fields and `_local`, the local time (computed once per row: a
        time zone conversion is one of the costlier operations per row).
        """
        good = f"FROM {parsed} WHERE _reason IS NULL"
        # Only logins not seen earlier in this run go through the HMAC.
        new = self.con.sql(
            f"SELECT DISTINCT lower(trim(user)) AS u {good} AND user IS NOT NULL "
            "AND lower(trim(user)) NOT IN (SELECT user FROM dim_user)"
        ).to_arrow_table()
        if new.num_rows:
            self.pseudonymizer.table(new.column("u").combine_chunks())
            self._register("dim_user", self.pseudonymizer.known())
        ips = self.con.sql(f"SELECT DISTINCT ip {good} AND ip IS NOT NULL").to_arrow_table()
        ip_values = ips.column("ip").combine_chunks()
        self._register(
            "dim_ip", pa.table({"ip": ip_values, "zone": self.zones.classify(ip_values)})
        )
        uas = self.con.sql(f"SELECT DISTINCT coalesce(user_agent, '') AS ua {good}")
        self._register(
            "dim_ua", classify_user_agents(uas.to_arrow_table().column("ua").combine_chunks())
        )
        days = self.con.sql(f"SELECT DISTINCT _local::DATE AS d {good}").to_arrow_table()
        calendar = calendar_table(days.column("d").combine_chunks(), school_zone=self.school_zone)
        month = pc.strftime(calendar.column("date"), format="%Y-%m")
        self._register("dim_day", calendar.append_column("month", month))

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
  SELECT g.*, g._local::DATE AS _day, coalesce(u.user_pseudo, t.user_pseudo) AS _pseudo
  FROM {parsed} g
  LEFT JOIN dim_user u ON u.user = lower(trim(g.user))
  LEFT JOIN traces t ON t.trace = g.trace
  WHERE g._reason IS NULL
) e
LEFT JOIN dim_ip z ON z.ip = e.ip
LEFT JOIN dim_ua a ON a.user_agent = coalesce(e.user_agent, '')
LEFT JOIN dim_day d ON d.date = e._day
{"ASOF LEFT JOIN" if self._asof else "LEFT JOIN"} people p ON p.user_pseudo = e._pseudo
  {"AND e._day >= p.valid_from" if self._asof else ""}
"""
