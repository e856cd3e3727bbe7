"""Where parsed fields become a canonical, enriched, pseudonymous event row.

Enrichment works on the *distinct* values of a chunk: each distinct login is pseudonymized
once, each distinct IP placed in a zone once, each distinct user agent classified once, each
distinct day looked up in the calendar once; the results are small tables whose rows are
gathered back to every event with Arrow kernels. Raw identifiers, IPs and user agents stop
here: the table that feeds the lake has only derived columns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigie.config import RouteConfig
from vigie.privacy.pseudonym import Pseudonymizer
from vigie.referential.calendar import calendar_table
from vigie.referential.devices import classify_user_agents
from vigie.referential.network import ZonePlan
from vigie.sources.compile import sql_str

__all__ = ["EVENT_COLUMNS", "Dimensions", "Enricher", "Lookup", "People", "route_sql"]

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


def encode(values: pa.Array | pa.ChunkedArray, defaults: tuple[str, ...] = ()
           ) -> pa.DictionaryArray:
    """`values` dictionary-encoded, with `defaults` in the dictionary too (added if absent)."""
    encoded = pc.dictionary_encode(
        values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    known = set(encoded.dictionary.to_pylist())
    missing = [value for value in defaults if value not in known]
    if missing:
        encoded = pa.DictionaryArray.from_arrays(encoded.indices, pa.concat_arrays(
            [encoded.dictionary, pa.array(missing, encoded.dictionary.type)]))
    return encoded


def gather(encoded: pa.DictionaryArray, rows: pa.Array, default: str | None = None,
           ) -> pa.DictionaryArray:
    """`encoded`'s values at `rows` (NULL rows: `default`, which must be in its dictionary).

    The result stays dictionary-encoded: gathering is a take of small integers, not a copy of
    text, and the Parquet writer keeps the dictionary instead of hashing every value again.
    """
    indices = encoded.indices.take(rows)
    if default is not None:
        indices = pc.fill_null(indices, position(encoded, default))
    return dictionary_array(indices, encoded.dictionary)


def dictionary_array(indices: pa.Array | pa.ChunkedArray, dictionary: pa.Array,
                     ) -> pa.DictionaryArray:
    """A dictionary array (indices of a chunked result are first made one array)."""
    if isinstance(indices, pa.ChunkedArray):
        indices = indices.combine_chunks()
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def position(encoded: pa.DictionaryArray, value: str) -> int:
    """Where `value` is in the dictionary of `encoded`."""
    return int(pc.index(encoded.dictionary, value).as_py())


def constant(value: str, size: int) -> pa.DictionaryArray:
    """`value` on `size` rows, as a dictionary of one value."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(size, np.int32)), pa.array([value]))


class Lookup:
    """A dimension computed once per distinct key and remembered for the whole run.

    `compute` turns an array of new keys into a table whose first column is the key. Chunks
    enriched by several threads share one lookup; a key is computed by whichever thread meets
    it first, and added once.
    """

    def __init__(self, compute: Callable[[pa.Array], pa.Table]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._encodings: dict[tuple[str, tuple[str, ...]], tuple[pa.Table, pa.DictionaryArray]]
        self._encodings = {}
        self.table: pa.Table | None = None

    def encoded(self, table: pa.Table, column: str, *defaults: str) -> pa.DictionaryArray:
        """A column of `table` (as `match` returned it) dictionary-encoded, once per version."""
        cached = self._encodings.get((column, defaults))
        if cached is None or cached[0] is not table:
            cached = self._encodings[column, defaults] = (
                table, encode(table.column(column), defaults))
        return cached[1]

    def add(self, keys: pa.Array) -> None:
        """Computes and remembers the keys not known yet (`keys` distinct, without NULL).

        One thread computes at a time: at the start of a run, the chunks in flight meet the
        same tens of thousands of new logins and addresses at once, and computing them in
        each thread (Python, under the GIL) cost as much again per extra thread; a thread
        that waited finds them known.
        """
        with self._lock:
            known = self.table
            if known is not None and len(keys):
                keys = keys.filter(pc.invert(pc.is_in(keys, value_set=known.column(0))))
            if not len(keys):
                return
            computed = self._compute(keys)
            parts = [computed] if known is None else [known, computed]
            self.table = pa.concat_tables(parts).combine_chunks()

    def match(self, values: pa.ChunkedArray) -> tuple[pa.Table, pa.Array]:
        """The lookup's table, with every value's row in it (NULL for a NULL value).

        Once a run has met most keys, a chunk costs one hash lookup per value; only the values
        not found yet are computed and added.
        """
        table = self.table
        if table is not None:
            rows = pc.index_in(values, value_set=table.column(0))
            if rows.null_count == values.null_count:
                return table, rows
            unknown = values.filter(pc.and_(pc.is_null(rows), pc.is_valid(values)))
            self.add(pc.unique(unknown))
        else:
            self.add(pc.unique(values).drop_null())
        # Still nothing at all (only NULL values): an empty table of the right shape.
        table = self.table if self.table is not None else self._compute(
            pa.array([], values.type))
        return table, pc.index_in(values, value_set=table.column(0))


#: Person attributes gathered as dictionary arrays, with the defaults an event may need.
_PERSON_DEFAULTS: dict[str, tuple[str, ...]] = {
    "population": ("unknown", "anonymous"), "structure": (), "structure_label": (),
    "etape": (), "cursus_year": (),
}


class People:
    """The pseudonymous directory snapshots of the lake, each valid from its date to the next.

    An event takes the attributes of its person in the snapshot valid on its day: a person
    absent from that snapshot is `unknown` that day, as they are absent from that day's
    population (`population_daily`). The first snapshot also covers the days before it.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table.sort_by("valid_from")
        self.encoded = {column: encode(self.table.column(column), defaults)
                        for column, defaults in _PERSON_DEFAULTS.items()}
        self.affiliations = _encoded_items(self.table.column("affiliations"))
        starts = pc.unique(self.table.column("valid_from")).to_pylist()
        counts = pc.value_counts(self.table.column("valid_from")).to_pylist()
        sizes = {c["values"]: c["counts"] for c in counts}
        self._snapshots: list[tuple[date, date | None, pa.Array, int]] = []
        offset = 0
        for i, start in enumerate(starts):
            pseudos = self.table.column("user_pseudo").slice(offset, sizes[start])
            end = starts[i + 1] if i + 1 < len(starts) else None
            self._snapshots.append((start, end, pseudos.combine_chunks(), offset))
            offset += sizes[start]
        self._dictionary_rows: dict[int, tuple[pa.Array, pa.Array]] = {}

    def rows(self, pseudo: pa.DictionaryArray, days: pa.ChunkedArray) -> pa.Array:
        """Each event's row of `table` (NULL when its person is not in that day's snapshot).

        Each distinct pseudonym (`pseudo`'s dictionary) is looked up once, then the rows are
        gathered by the events' indices: no hashing of every event's pseudonym.
        """
        found: pa.Array | pa.ChunkedArray = pa.nulls(len(pseudo), pa.int64())
        if not self._snapshots or not len(pseudo):
            return found
        bounds = pc.min_max(days)
        first, last = bounds["min"].as_py(), bounds["max"].as_py()
        for start, end, pseudos, offset in self._snapshots:
            if (end is not None and end <= first) or start > last:
                continue  # not valid on any day of these events
            rows = pc.add(pc.cast(self._rows_of(pseudo.dictionary, pseudos), pa.int64()),
                          offset).take(pseudo.indices)
            if start <= first and (end is None or end > last):
                return rows  # the usual case: one snapshot for every event
            valid = pc.greater_equal(days, pa.scalar(start, pa.date32()))
            if end is not None:
                valid = pc.and_(valid, pc.less(days, pa.scalar(end, pa.date32())))
            found = pc.if_else(valid, rows, found)
        return found

    def _rows_of(self, dictionary: pa.Array, pseudos: pa.Array) -> pa.Array:
        """The rows in a snapshot (`pseudos`) of the pseudonyms of `dictionary`, remembered
        for the last dictionary met per snapshot.

        The users' lookup gives the same dictionary to every chunk until it meets someone
        new, and then one that starts with the previous one (it only appends): only the new
        pseudonyms are looked up.
        """
        key = id(pseudos)
        cached = self._dictionary_rows.get(key)
        if cached is not None and cached[0] is dictionary:
            return cached[1]
        known = cached[1] if cached is not None and _starts_with(dictionary, cached[0]) else None
        if known is None:
            rows = pc.index_in(dictionary, value_set=pseudos)
        else:
            added = dictionary.slice(len(known))
            rows = pa.concat_arrays([known, pc.index_in(added, value_set=pseudos)])
        self._dictionary_rows[key] = (dictionary, rows)
        return rows


def _starts_with(longer: pa.Array, prefix: pa.Array) -> bool:
    """Whether `longer` begins with the values of `prefix` (an earlier version of it)."""
    return len(longer) >= len(prefix) and longer.slice(0, len(prefix)).equals(prefix)


def _encoded_items(lists: pa.ChunkedArray) -> pa.ListArray:
    """A list-of-text column with its items dictionary-encoded.

    Why: the events' `affiliations` are gathered from the directory's rows; a list of a few
    dictionary indices is gathered and written about twice as fast as a list of text (files
    read back the same: a list of strings).
    """
    combined = lists.combine_chunks()
    offsets = pc.subtract(combined.offsets, combined.offsets[0])  # a slice's start at 0
    items = pc.dictionary_encode(combined.flatten())
    return pa.ListArray.from_arrays(offsets, items, mask=combined.is_null())


@dataclass
class Dimensions:
    """What one run enriches with, shared by every thread that enriches chunks.

    The lookups grow as new logins, addresses, user agents and days are met; the directory
    snapshots (`people`) and the CAS traces (trace → pseudonym) are read once per run.
    """

    users: Lookup
    zones: Lookup
    agents: Lookup
    days: Lookup
    people: People
    traces: pa.Table

    @classmethod
    def create(cls, pseudonymizer: Pseudonymizer, zones: ZonePlan, school_zone: str, *,
               people: pa.Table, traces: pa.Table) -> Dimensions:
        def calendar(dates: pa.Array) -> pa.Table:
            table = calendar_table(dates, school_zone=school_zone)
            return table.append_column("month", pc.strftime(table.column("date"), "%Y-%m"))

        return cls(
            users=Lookup(pseudonymizer.table),
            zones=Lookup(lambda ips: pa.table({"ip": ips, "zone": zones.classify(ips)})),
            agents=Lookup(classify_user_agents),
            days=Lookup(calendar),
            people=People(people),
            traces=traces,
        )


@dataclass
class Enricher:
    """Enriches chunks with the run's dimensions; one per thread, with its DuckDB cursor.

    The chunk stays in Arrow: each key is matched to its lookup's row (`index_in`, a hash
    lookup) and the derived columns are gathered (`take`) — no join result to build and
    convert, which was most of the cost of enriching in SQL.
    """

    con: duckdb.DuckDBPyConnection
    dimensions: Dimensions

    def _per_distinct(self, values: pa.ChunkedArray, query: str) -> pa.Array:
        """`query` (a SELECT of one column over `_vigie_values(value)`) once per distinct value.

        Expressions that only SQL says well (routing rules, lenient casts) cost one evaluation
        per distinct value (few: services, statuses), then a gather per row.
        """
        distinct = pc.unique(values)
        self.con.register("_vigie_values", pa.table({"value": distinct}))
        result = self.con.sql(query).to_arrow_table().column(0).combine_chunks()
        self.con.unregister("_vigie_values")
        rows = pc.index_in(values, value_set=distinct)
        if not (pa.types.is_string(result.type) or pa.types.is_large_string(result.type)):
            return result.take(rows)
        encoded = pc.dictionary_encode(result)  # text (a service) stays dictionary-encoded
        return dictionary_array(encoded.indices.take(rows), encoded.dictionary)

    def _pseudonyms(self, good: pa.Table) -> pa.DictionaryArray:
        """Each event's pseudonym: from its login, or else from its CAS trace cookie.

        Dictionary-encoded by the users' lookup (one entry per pseudonym met in the run): the
        directory's rows, the daily grouping and the Parquet writer then work on its indices
        instead of hashing every event's pseudonym again.
        """
        # Keyed by the login as written: `Pseudonymizer` ignores case and surrounding blanks.
        lookup = self.dimensions.users
        users, rows = lookup.match(good.column("user"))
        pseudo = gather(lookup.encoded(users, "user_pseudo"), rows)
        traces = self.dimensions.traces
        if traces.num_rows and good.column("trace").null_count < good.num_rows:
            traced = traces.column("user_pseudo").combine_chunks().take(pc.index_in(
                good.column("trace").combine_chunks(), value_set=traces.column("trace")))
            if traced.null_count < len(traced):
                pseudo = pc.dictionary_encode(pc.coalesce(pseudo.dictionary_decode(), traced))
        return pseudo

    def events(self, parsed: pa.Table, *, service: str, source: str, format_name: str,
               ) -> pa.Table:
        """The canonical event rows (`EVENT_COLUMNS`) of the good records of `parsed`.

        `parsed` has the parsed fields, `ts`, `_local`, `_day` and `_reason`; `service` is
        the routing SQL (`route_sql`). Raw logins, IPs and user agents stop here: none is a
        column of the result.
        """
        reason = parsed.column("_reason")
        good = parsed if reason.null_count == parsed.num_rows else parsed.filter(
            pc.is_null(reason))
        size, dims = good.num_rows, self.dimensions
        pseudo = self._pseudonyms(good)
        person_rows = dims.people.rows(pseudo, good.column("_day"))
        zones, zone_rows = dims.zones.match(good.column("ip"))
        agents, agent_rows = dims.agents.match(good.column("user_agent").fill_null(""))
        days, day_rows = dims.days.match(good.column("_day"))

        population = dims.people.encoded["population"]
        indices = gather(population, person_rows, "unknown").indices

        def person(column: str) -> pa.DictionaryArray:
            return gather(dims.people.encoded[column], person_rows)

        def agent(column: str, default: str | None = None) -> pa.DictionaryArray:
            return gather(dims.agents.encoded(agents, column, *filter(None, [default])),
                          agent_rows, default)

        def day(column: str) -> pa.Array:
            return days.column(column).take(day_rows)

        def day_text(column: str) -> pa.DictionaryArray:
            return gather(dims.days.encoded(days, column), day_rows)

        host = HOST_SQL if "_host" in service else "NULL"
        columns = {
            "ts": good.column("ts"),
            "day": good.column("_day"),
            "service": self._per_distinct(good.column("target"), (
                f"SELECT {service} FROM (SELECT value AS target, {host} AS _host "
                "FROM _vigie_values)")),
            "source": constant(source, size),
            "format": constant(format_name, size),
            "action": good.column("action"),
            "status": self._per_distinct(good.column("status"),
                                         "SELECT TRY_CAST(value AS INTEGER) FROM _vigie_values"),
            "user_pseudo": pseudo,
            "population": dictionary_array(
                pc.if_else(pc.is_null(pseudo), position(population, "anonymous"), indices),
                population.dictionary),
            "affiliations": dims.people.affiliations.take(person_rows),
            "structure": person("structure"),
            "structure_label": person("structure_label"),
            "etape": person("etape"),
            "cursus_year": person("cursus_year"),
            "zone": gather(dims.zones.encoded(zones, "zone", "unknown"), zone_rows, "unknown"),
            "device": agent("device", "other"),
            "browser": agent("browser"),
            "os": agent("os"),
            "weekday": day("weekday"),
            "hour": pc.cast(pc.hour(good.column("_local")), pa.int8()),
            "is_public_holiday": day("is_public_holiday"),
            "is_school_holiday": day("is_school_holiday"),
            "academic_year": day_text("academic_year"),
            "month": day_text("month"),
        }
        return pa.table({name: columns[name] for name in EVENT_COLUMNS})
