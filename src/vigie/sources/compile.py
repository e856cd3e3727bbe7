"""Turns a `FormatSpec` into one DuckDB SELECT that parses a whole chunk of lines at once.

This is where a log line becomes fields. The generated query reads a relation of raw lines
(`line_no`, `byte_offset`, `line`; `line` is NULL when the bytes were not valid text) and
`CompiledFormat.parse` returns one row per record with the canonical fields, the parsed
timestamp `ts` and `_reason`, which is NULL for a good record and says why otherwise (the
quarantine keeps it).

Templates are cut with a regular expression derived from them; when the template declares a
`split` character, the common case is cut with `string_split` instead (about ten times faster
than regex sub-matching) and only lines that do not have the expected shape fall back to the
regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigie.errors import FormatError
from vigie.sources.spec import CANONICAL_FIELDS, FormatSpec

__all__ = ["CompiledFormat", "compile_format", "template_regex"]

_HOLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: Zone abbreviations found in logs written by Java's `Date.toString()` and syslog, with offsets.
TZ_ABBREVIATIONS = {"CEST": "+0200", "CET": "+0100", "UTC": "+0000", "GMT": "+0000"}
#: Java's custom zone ids, such as `GMT+08:00`, are offsets.
_JAVA_GMT_OFFSET = r"' GMT([+-]\d\d):?(\d\d) '"


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _literal(expression: str) -> str | None:
    """The text of a SQL string literal (`'service-ticket'`), None for any other expression."""
    match = re.fullmatch(r"'((?:[^']|'')*)'", expression.strip())
    return match.group(1).replace("''", "'") if match else None


def repr_name(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _pieces(template: str) -> list[tuple[str, str | None]]:
    """Splits a template into (literal, following field or None) pairs."""
    parts = _HOLE.split(template)
    literals, names = parts[0::2], parts[1::2]
    return [(lit, names[i] if i < len(names) else None) for i, lit in enumerate(literals)]


def template_regex(template: str, *, anchored_end: bool = False) -> str:
    """The RE2 regular expression equivalent to a template.

    A field stops at the first character of the literal that follows it (as Apache's own
    parser does); a field followed by a literal of three characters or more stops lazily at that
    whole literal, so a URL may contain `]` before `] [USER-AGENT:`; the last field takes the rest,
    up to the template's closing literal at the end of the line.
    """
    pieces, bodies = _pieces(template), _bodies(template)
    out = "^"
    for literal, name in pieces:
        out += re.escape(literal)
        if name is not None:
            out += f"(?P<{name}>{bodies[name]})"
    # A closing literal after the last field ends the line (but for blanks).
    closed = bool(bodies) and bool(pieces[-1][0])
    return out + (r"\s*$" if anchored_end or closed else "")


def _bodies(template: str) -> dict[str, str]:
    """The regular expression each field of a template matches (see `template_regex`)."""
    pieces = _pieces(template)
    bodies = {}
    for i, (_, name) in enumerate(pieces):
        if name is None:
            continue
        following = pieces[i + 1][0] if i + 1 < len(pieces) else ""
        if not following or i + 2 == len(pieces):
            bodies[name] = ".*"  # the last field: everything up to the closing literal
        elif len(following) >= 3:
            bodies[name] = ".*?"
        else:
            bodies[name] = "[^" + re.escape(following[0]) + "]*"
    return bodies


@dataclass(frozen=True)
class CompiledFormat:
    """The SQL of a format, ready to parse a relation of raw lines.

    Parsing runs in two steps. `sql` cuts the records into fields and keeps the time as text
    (`_time_raw`); `time_sql` reads each *distinct* time text once. Log lines are written as
    events happen, so a chunk holds several lines per second: reading times once per distinct
    value, with the time zone conversions that go with them, costs a fraction of once per line.
    """

    spec: FormatSpec
    sql: str
    time_sql: str
    #: Canonical fields that are the same on every row (a literal, or NULL): (name, value).
    constants: tuple[tuple[str, str | None], ...] = ()

    def parse(self, con: duckdb.DuckDBPyConnection, relation: str, *, timezone: str,
              reference: datetime) -> pa.Table:
        """Parses `relation` (a table or view of raw lines) into one row per record.

        The rows have `line_no`, `byte_offset`, the canonical fields, `ts` (TIMESTAMPTZ),
        `_local` and `_day` (local time and date in `timezone`) and `_reason`, NULL for a good
        record. `reference` is when the source was last written (a file's modification
        time): it gives the year of formats that have none.
        """
        fields = con.sql(self.sql.replace("__RELATION__", relation)).to_arrow_table()
        runs, index = _runs(fields.column("_time_raw").combine_chunks())
        con.register("_vigie_times", pa.table({"_time_raw": runs}))
        times = con.sql(
            self.time_sql.replace("__TZ__", sql_str(timezone))
            .replace("__YEAR__", str(reference.year))
            .replace("__REFERENCE__", str(reference.timestamp()))
        ).to_arrow_table()
        con.unregister("_vigie_times")
        if not times.column("_time_raw").equals(pa.chunked_array([runs])):
            # DuckDB keeps a projection's order (`preserve_insertion_order`); should it not,
            # each run finds its row by value instead.
            index = pc.index_in(runs, value_set=times.column("_time_raw")).take(index)
        ts = _microseconds(times.column("ts")).take(index)
        reason = fields.column("_reason")
        unreadable = pc.and_(pc.is_null(reason), pc.is_null(ts))
        reason = pc.if_else(unreadable, f"unreadable time (expected {self.spec.time_format})",
                            reason)
        fields = fields.drop_columns(["_time_raw", "_reason"])
        for name, value in self.constants:
            fields = fields.append_column(name, pa.repeat(pa.scalar(value, pa.string()),
                                                          fields.num_rows))
        return fields.append_column("ts", ts).append_column(
            "_local", _microseconds(times.column("_local")).take(index)).append_column(
            "_day", times.column("_day").take(index)).append_column("_reason", reason)


def _runs(raw: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(first value of each run of equal values, each row's run): the time texts to read.

    Log lines are written in time order, several per second: comparing each time text with
    the one before finds the texts to read for a fraction of the cost of hashing them all.
    """
    if len(raw) == 0:
        return raw, pa.array([], pa.int64())
    same = pc.fill_null(pc.equal(raw.slice(1), raw.slice(0, len(raw) - 1)), False)
    starts = np.concatenate([[True], ~same.to_numpy(zero_copy_only=False)])
    return raw.filter(pa.array(starts)), pa.array(np.cumsum(starts) - 1)


def _microseconds(times: pa.ChunkedArray) -> pa.ChunkedArray:
    """Times in microseconds, as the lake keeps them (nanoseconds, `%n`, are truncated)."""
    if pa.types.is_timestamp(times.type) and times.type.unit == "ns":
        return times.cast(pa.timestamp("us", times.type.tz), safe=False)
    return times


def _regex_struct(text: str, pattern: str, names: list[str]) -> str:
    """`regexp_extract` of all groups at once, as a struct (groups are named by position)."""
    listed = ", ".join(sql_str(n) for n in names)
    return f"regexp_extract({text}, {sql_str(pattern)}, [{listed}])"


def _token_plan(
    segment: str, bodies: dict[str, str], *, may_span: bool
) -> tuple[str, list[str], int | None] | None:
    """(character, tokens, spanning token) cutting a segment of several fields with a second
    split, if that gives what the template's regular expression would.

    The segment's template, split on one character of its inner literals, must give tokens of
    at most one field each (`{status} {bytes}`, `{ip} {ident} {user} [{time}]`). A field that
    cannot hold that character (regex `[^c]*`) is one token. One field that may (a lazy `.*?`,
    such as Apache's `[{time}]`) may span several tokens if it is the segment's last field
    and `may_span` (the literal after it runs past the segment, so the lazy match can only
    stop at the segment's end): the tokens after it are counted from the end.
    """
    inner = _HOLE.split(segment)[0::2][1:-1]
    for char in dict.fromkeys(literal[0] for literal in inner if literal):
        if char in "{}":
            continue
        tokens = segment.split(char)
        holes = [_HOLE.findall(token) for token in tokens]
        if any(len(found) > 1 for found in holes):
            continue
        one_token = "[^" + re.escape(char) + "]*"
        spanning = [k for k, found in enumerate(holes) if found and bodies[found[0]] != one_token]
        if not spanning:
            return char, tokens, None
        (k,) = spanning if len(spanning) == 1 else (None,)
        if (k is not None and may_span and bodies[holes[k][0]] == ".*?"
                and not any(holes[k + 1:])):
            return char, tokens, k
    return None


#: A substring length longer than any line (chunks are read by tens of MiB).
_NO_LIMIT = 1 << 30


def _strip(text: str, prefix: str, suffix: str) -> tuple[list[str], str]:
    """(conditions, value) of a field written between a literal prefix and suffix in `text`
    (SQL): the value is cut by position."""
    conditions = [f"starts_with({text}, {sql_str(prefix)})"] if prefix else []
    if suffix:
        conditions.append(f"ends_with({text}, {sql_str(suffix)})")
        end = f"length({text}) - {len(prefix) + len(suffix)}"
        return conditions, f"substr({text}, {len(prefix) + 1}, {end})"
    # To the end, with a length that no line reaches: DuckDB then does not count the
    # characters of the rest (a user agent: 10 % of a CAS line's parsing).
    return conditions, f"substr({text}, {len(prefix) + 1}, {_NO_LIMIT})" if prefix else text


def _split_fast_path(
    template: str, sep: str, names: list[str], needed: set[str]
) -> tuple[list[list[str]], str, dict[str, str]]:
    """(layers of extra columns, condition, field expressions) cutting a template on one
    separator, without regular expressions for the lines of the expected shape.

    Each segment between separators is pure literal text (checked), one field (possibly between
    a literal prefix and suffix: cut by position), fields separated by one character (a second
    split, see `_token_plan`), or fields between other literals: cut one after the other at the
    first occurrence of the literal that follows each (what a lazy regex group does), one
    projection layer per field.
    A template that ends with a lone field keeps the remaining segments joined, so trailing
    extra fields are allowed.
    """
    segments = template.split(sep)
    n = len(segments)
    bodies = _bodies(template)
    tail = _HOLE.fullmatch(segments[-1]) is not None
    layers: list[list[str]] = []

    def add(level: int, column: str) -> None:
        while len(layers) <= level:
            layers.append([])
        layers[level].append(column)

    conditions = [f"len(_p) {'>=' if tail else '='} {n}"]
    values: dict[str, str] = {}
    for i, seg in enumerate(segments, start=1):
        holes = _HOLE.findall(seg)
        literals = _HOLE.split(seg)[0::2]
        if not holes:
            # Checked, or a field with a stray separator would shift the next ones unseen.
            conditions.append(f"_p[{i}] = {sql_str(seg)}")
        elif len(holes) == 1 and i == n and tail:
            values[holes[0]] = f"array_to_string(_p[{n}:], {sql_str(sep)})"
        elif len(holes) == 1:
            cut, values[holes[0]] = _strip(f"_p[{i}]", *literals)
            conditions += cut
        elif (plan := _token_plan(seg, bodies, may_span=i < n)) is not None:
            # Fields separated by one character (` {status} {bytes} `): a second split.
            char, tokens, spanning = plan
            add(0, f"string_split(_p[{i}], {sql_str(char)}) AS _s{i}")
            conditions.append(f"len(_s{i}) {'=' if spanning is None else '>='} {len(tokens)}")
            for k, token in enumerate(tokens):
                if spanning is None or k < spanning:
                    text = f"_s{i}[{k + 1}]"
                elif k > spanning:
                    text = f"_s{i}[{k - len(tokens)}]"
                else:  # the tokens of the field that may hold the character, joined again
                    stop = spanning - len(tokens)
                    add(1, f"array_to_string(_s{i}[{k + 1}:{stop}], {sql_str(char)}) AS _j{i}")
                    text = f"_j{i}"
                field = _HOLE.search(token)
                if field is None:
                    conditions.append(f"{text} = {sql_str(token)}")
                    continue
                cut, values[field.group(1)] = _strip(text, token[:field.start()],
                                                     token[field.end():])
                conditions += cut
        elif all(literals[1:-1]):
            # `{user}@{host}:{port}`: each field ends where the next literal starts.
            prefix, inner, suffix = literals[0], literals[1:-1], literals[-1]
            if prefix:
                conditions.append(f"starts_with(_p[{i}], {sql_str(prefix)})")
            add(0, (f"substr(_p[{i}], {len(prefix) + 1}, {_NO_LIMIT})" if prefix else f"_p[{i}]")
                + f" AS _c{i}_0")
            for k, literal in enumerate(inner):
                rest, found = f"_c{i}_{k}", f"strpos(_c{i}_{k}, {sql_str(literal)})"
                conditions.append(f"{found} > 0")
                add(k + 1, f"left({rest}, {found} - 1) AS _v{i}_{k}")
                add(k + 1, f"substr({rest}, {found} + {len(literal)}, {_NO_LIMIT}) "
                           f"AS _c{i}_{k + 1}")
                values[holes[k]] = f"_v{i}_{k}"
            last = f"_c{i}_{len(inner)}"
            if suffix:
                conditions.append(f"ends_with({last}, {sql_str(suffix)})")
                last = f"left({last}, length({last}) - {len(suffix)})"
            values[holes[-1]] = last
        else:
            # Adjacent fields: a short regex on this segment only, anchored at both ends; when
            # it does not match, every group is empty, which is the test (a segment whose fields
            # are all empty would not have a readable time anyway).
            rx = template_regex(seg, anchored_end=True)
            add(0, f"{_regex_struct(f'_p[{i}]', rx, holes)} AS _s{i}")
            conditions.append(
                "(" + " OR ".join(f"_s{i}.\"{name}\" <> ''" for name in holes) + ")")
            values.update({name: f'_s{i}."{name}"' for name in holes})
    missing = [nm for nm in names if nm not in values]
    if missing:
        raise FormatError(f"template field(s) {missing} straddle the split character {sep!r}")
    return layers, " AND ".join(conditions), {
        nm: values[nm] if nm in needed else "NULL::VARCHAR" for nm in names}


def _cut(spec: FormatSpec, needed: set[str]) -> tuple[str, str, dict[str, str]]:
    """(source relation SQL, condition that the record matched, expression of each field).

    Fields not in `needed` are not cut out of the line by the fast path (they stay NULL). Each
    field is its own expression (no intermediate struct): the fast path's cheap string
    functions for the lines of the expected shape, the regular expression for the others only.
    """
    names = spec.field_names
    if not names:
        raise FormatError(f"format {spec.name!r} declares no field")
    lines = "SELECT line_no, byte_offset, line, line IS NOT NULL AS _text_ok FROM __RELATION__"
    if spec.kind == "json":
        # All paths in one call: the document is parsed once per line, not once per field.
        paths = ", ".join(sql_str(path) for path in spec.extract.values())
        source = (f"SELECT *, CASE WHEN json_valid(line) THEN json_extract_string(line, [{paths}]) "
                  f"END AS _j FROM ({lines})")
        return source, "_j IS NOT NULL", {n: f"_j[{i}]" for i, n in enumerate(names, start=1)}
    pattern = spec.pattern or template_regex(spec.template or "")
    if spec.kind == "multiline":
        assert spec.record_start
        lines = (
            "SELECT min(line_no) AS line_no, min(byte_offset) AS byte_offset, "
            "string_agg(coalesce(line, ''), chr(10) ORDER BY line_no) AS line, "
            "bool_and(line IS NOT NULL) AS _text_ok FROM ("
            f"  SELECT *, sum(CASE WHEN regexp_matches(coalesce(line, ''), "
            f"{sql_str(spec.record_start)}) THEN 1 ELSE 0 END) "
            "  OVER (ORDER BY line_no ROWS UNBOUNDED PRECEDING) AS _record FROM __RELATION__"
            ") GROUP BY _record"
        )
        pattern = "(?s)" + pattern
    regex = (f"CASE WHEN regexp_matches(line, {sql_str(pattern)}) "
             f"THEN {_regex_struct('line', pattern, names)} END")
    slow = {n: f'_r."{n}"' for n in names}
    if not (spec.template and spec.split):
        return f"SELECT *, {regex} AS _r FROM ({lines})", "_r IS NOT NULL", slow
    layers, fast_ok, fast = _split_fast_path(spec.template, spec.split, names, needed)
    source = ("SELECT line_no, byte_offset, line, line IS NOT NULL AS _text_ok, "
              f"string_split(line, {sql_str(spec.split)}) AS _p FROM __RELATION__")
    for layer in layers:
        source = f"SELECT *, {', '.join(layer)} FROM ({source})"
    source = (
        f"SELECT *, CASE WHEN NOT _fast THEN {regex} END AS _r FROM ("
        f"SELECT *, coalesce({fast_ok}, false) AS _fast FROM ({source}))"
    )
    return source, "(_fast OR _r IS NOT NULL)", {
        n: f"CASE WHEN _fast THEN {fast[n]} ELSE {slow[n]} END" for n in names}


def _formats(fmt: str) -> str:
    """The strptime format(s) as SQL: a fraction of seconds may be absent (zero is not written)."""
    bare = re.sub(r"[.,]%[fgn]", "", fmt)
    return sql_str(fmt) if bare == fmt else f"[{sql_str(fmt)}, {sql_str(bare)}]"


def _time_expr(spec: FormatSpec, raw: str) -> str:
    """SQL turning the time text `raw` into TIMESTAMPTZ (NULL when it cannot be read).

    Several readings may be tried in turn (`coalesce` evaluates a later one only for the rows
    the earlier ones could not read): the common form first, rarer ones after.
    """
    fmt = spec.time_format
    if fmt == "epoch":
        return f"to_timestamp(TRY_CAST({raw} AS DOUBLE))"
    zone = sql_str(spec.timezone) if spec.timezone else "__TZ__"
    readings: list[tuple[str, str]] = []  # (text, strptime format)
    if "%Z" in fmt:
        named = raw
        for abbr, offset in TZ_ABBREVIATIONS.items():
            named = f"replace({named}, ' {abbr} ', ' {offset} ')"
        readings.append((named, fmt.replace("%Z", "%z")))
        # Java's custom zone ids are offsets: GMT+08:00.
        java = f"regexp_replace({raw}, {_JAVA_GMT_OFFSET}, ' \\1\\2 ')"
        readings.append((java, fmt.replace("%Z", "%z")))
        if "%Z " in fmt:
            # A zone name that is not an offset (Java prints CST, EDT, IST: ambiguous) is read
            # as the zone of times without offset: Date.toString() prints the server's own.
            readings.append((f"regexp_replace({raw}, ' [A-Z]{{2,5}} ', ' ')",
                             fmt.replace("%Z ", "")))
    else:
        readings.append((raw, fmt))
    alternatives = []
    for text, text_format in readings:
        if spec.year == "infer":
            text, text_format = f"'__YEAR__ ' || {text}", "%Y " + text_format
        reading = f"try_strptime({text}, {_formats(text_format)})"
        alternatives.append(reading if "%z" in text_format else f"timezone({zone}, {reading})")
    parsed = alternatives[0] if len(alternatives) == 1 else f"coalesce({', '.join(alternatives)})"
    if spec.year == "infer":
        # A syslog line has no year: take the reference year (the file's last write), and a
        # date later than the reference means the line was written the year before.
        parsed = (
            f"(CASE WHEN {parsed} > to_timestamp(__REFERENCE__) + INTERVAL 1 DAY "
            f"THEN {parsed} - INTERVAL 1 YEAR ELSE {parsed} END)"
        )
    return parsed


def _referenced(spec: FormatSpec, expressions: Iterable[str]) -> set[str]:
    """The cut fields the time and the canonical mapping use (the others need not be cut)."""
    used = {spec.time_field}
    for expression in expressions:
        used |= {
            name for name in spec.field_names
            if f'"{name}"' in expression
            or re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", expression)
        }
    return used


def compile_format(spec: FormatSpec, *, omit: frozenset[str] = frozenset()) -> CompiledFormat:
    """Builds the parsing query of a format (done once per run, not per line).

    Canonical fields in `omit` are left NULL: a source that does not route needs no `target`,
    an installation without CAS trace files no `trace`, and not computing them saves time.
    """
    mapped = {name: repr_name(name) for name in spec.field_names if name in CANONICAL_FIELDS}
    if spec.kind == "table":
        mapped = {}
    for name, expr in spec.fields.items():
        mapped[name] = expr
    for name in omit:
        mapped.pop(name, None)
    # A field that is NULL or one literal is added to the parsed rows by Arrow, not by SQL.
    constants = tuple(
        (f, _literal(mapped.get(f, "NULL"))) for f in CANONICAL_FIELDS
        if mapped.get(f, "NULL") == "NULL" or _literal(mapped[f]) is not None
    )
    fixed = {f for f, _ in constants}
    # Each computed field as ", <expression> AS <name>" (there may be none).
    canon = "".join(
        f",\n  CAST({mapped[f]} AS VARCHAR) AS {f}" for f in CANONICAL_FIELDS if f not in fixed
    )
    time_sql = (
        "SELECT _time_raw, ts, _local, _local::DATE AS _day FROM ("
        "SELECT *, timezone(__TZ__, ts) AS _local FROM ("
        f"SELECT _time_raw, {_time_expr(spec, '_time_raw')} AS ts FROM _vigie_times))"
    )
    if spec.kind == "table":
        # Already columns (a database table or CSV export): no cutting, no quarantine by shape.
        sql = (
            f"SELECT line_no, byte_offset, {repr_name(spec.time_field)} AS _time_raw{canon},\n"
            "  NULL::VARCHAR AS _reason\nFROM __RELATION__"
        )
        return CompiledFormat(spec, sql, time_sql, constants)
    source, matched, fields = _cut(spec, _referenced(spec, mapped.values()))
    # Field expressions refer to cut fields by bare name: each is a column of `_fields`.
    field_cols = ", ".join(f"{expr} AS {repr_name(n)}" for n, expr in fields.items())
    sql = f"""
WITH _fields AS (
  SELECT line_no, byte_offset, _text_ok, {matched} AS _matched, {field_cols}
  FROM ({source})
),
_mapped AS (
  SELECT line_no, byte_offset, _text_ok, _matched,
  {repr_name(spec.time_field)} AS _time_raw{canon}
  FROM _fields
)
SELECT * EXCLUDE (_text_ok, _matched),
  CASE WHEN NOT _text_ok THEN 'not valid UTF-8 text (check the source encoding)'
       WHEN NOT _matched THEN 'does not match format {spec.name}'
  END AS _reason
FROM _mapped
"""
    return CompiledFormat(spec, sql, time_sql, constants)
