"""Formats compile to one SQL query; the split fast path and the regex agree."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from vigie.errors import FormatError
from vigie.sources.compile import CompiledFormat, compile_format, template_regex
from vigie.sources.spec import FormatSpec, available_formats, builtin_formats

REFERENCE = datetime(2026, 1, 10, tzinfo=UTC)


def parsed_table(
    spec: FormatSpec, lines: list[str | None], reference: datetime = REFERENCE,
    compiled: CompiledFormat | None = None,
) -> pa.Table:
    """`lines` parsed by `spec` (or by `compiled`, a variant of its compiled SQL)."""
    con = duckdb.connect()
    con.register("raw", pa.table({
        "line_no": pa.array(range(1, len(lines) + 1), pa.int64()),
        "byte_offset": pa.array([0] * len(lines), pa.int64()),
        "line": pa.array(lines, pa.string()),
    }))
    parsed = (compiled or compile_format(spec)).parse(
        con, "raw", timezone="Europe/Paris", reference=reference)
    return parsed.sort_by("line_no")


def parse(
    spec: FormatSpec, lines: list[str | None], reference: datetime = REFERENCE
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = parsed_table(spec, lines, reference).to_pylist()
    return rows


def test_sources_compile_template_regex_stops_at_next_literal() -> None:
    assert template_regex("{a} [{b}] {c}") == r"^(?P<a>[^\ ]*)\ \[(?P<b>[^\]]*)\]\ (?P<c>.*)"
    assert template_regex("[{a}] [{b}]") == r"^\[(?P<a>.*?)\]\ \[(?P<b>.*)\]\s*$"


def test_sources_compile_apache_combined_with_user_and_trace() -> None:
    spec = builtin_formats()["apache_combined"]
    line = (
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
        '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)" '
        '"SESSION_ROUTE=ent5" TRACE-98063-lpBciGY9-cas1'
    )
    (row,) = parse(spec, [line])
    assert row["_reason"] is None
    assert row["user"] == "frank"
    assert row["ip"] == "127.0.0.1"
    assert row["action"] == "GET"
    assert row["target"] == "/apache_pb.gif"
    assert row["status"] == "200"
    assert row["user_agent"] == "Mozilla/4.08 [en] (Win98; I ;Nav)"
    assert row["trace"] == "TRACE-98063-lpBciGY9-cas1"
    assert row["ts"] == datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)


def test_sources_compile_apache_fallback_handles_escaped_quote() -> None:
    """A user agent with an escaped quote breaks the split fast path; the regex takes over."""
    spec = builtin_formats()["apache_combined"]
    line = ('192.0.2.1 - - [10/Oct/2000:13:55:36 +0200] "GET / HTTP/1.1" 200 5 "-" '
            '"Mozilla \\"quoted\\" agent"')
    (row,) = parse(spec, [line])
    assert row["_reason"] is None
    assert row["ip"] == "192.0.2.1" and row["user"] is None


def test_sources_compile_quarantine_reasons() -> None:
    spec = builtin_formats()["apache_combined"]
    good = '192.0.2.1 - - [10/Oct/2000:13:55:36 +0200] "GET / HTTP/1.1" 200 5 "-" "ua"'
    bad_time = good.replace("10/Oct/2000", "99/Foo/2000")
    rows = parse(spec, [good, "garbage", None, bad_time])
    assert rows[0]["_reason"] is None
    assert rows[1]["_reason"] == "does not match format apache_combined"
    assert rows[2]["_reason"].startswith("not valid UTF-8")
    assert rows[3]["_reason"].startswith("unreadable time")


def test_sources_compile_cas_servicestats_real_line() -> None:
    spec = builtin_formats()["cas_servicestats"]
    line = ("[Fri Sep 25 00:22:07 CEST 2015] [IP:193.49.162.13] [ID:ens0] "
            "[TICKET:ST-316434-bW7cGs7vmbIJZMcD4yZW-cas1] "
            "[SERVICE:https://ent.univ-lorraine.fr/Login] "
            "[USER-AGENT:Mozilla/5.0 (Windows NT 6.3; WOW64; Trident/7.0; rv:11.0) like Gecko]")
    (row,) = parse(spec, [line])
    assert row["user"] == "ens0"
    assert row["target"] == "https://ent.univ-lorraine.fr/Login"
    assert row["ts"] == datetime(2015, 9, 24, 22, 22, 7, tzinfo=UTC)
    assert row["user_agent"].endswith("like Gecko")


def test_sources_compile_cas_service_url_with_bracket_uses_fallback() -> None:
    spec = builtin_formats()["cas_servicestats"]
    line = ("[Fri Sep 25 00:22:07 CEST 2015] [IP:192.0.2.1] [ID:u1] [TICKET:ST-1] "
            "[SERVICE:https://x.fr/?a[0]=1] [USER-AGENT:Mozilla [FBAN/FBIOS]]")
    (row,) = parse(spec, [line])
    assert row["_reason"] is None
    assert row["target"] == "https://x.fr/?a[0]=1"
    assert row["user_agent"] == "Mozilla [FBAN/FBIOS]"


def test_sources_compile_syslog_year_inferred_across_new_year() -> None:
    spec = FormatSpec(name="sys", pattern=r"^(?P<time>\w{3} +\d+ [\d:]{8}) (?P<user>\S+)",
                      time_format="%b %d %H:%M:%S", year="infer")
    rows = parse(spec, ["Dec 31 23:59:00 alice", "Jan  1 00:01:00 bob"],
                 reference=datetime(2026, 1, 1, 1, 0, tzinfo=UTC))
    assert rows[0]["ts"] == datetime(2025, 12, 31, 22, 59, tzinfo=UTC)
    assert rows[1]["ts"] == datetime(2025, 12, 31, 23, 1, tzinfo=UTC)  # 1 Jan 2026, Paris


def test_sources_compile_custom_format_from_config_entry() -> None:
    formats = available_formats([{
        "name": "adeweb", "pattern": r"^(?P<time>\S+ \S+) (?P<user>\w+) (?P<action>\w+)$",
        "time_format": "%Y-%m-%d %H:%M:%S",
    }])
    (row,) = parse(formats["adeweb"], ["2026-03-02 08:15:00 jdoe consult"])
    assert (row["user"], row["action"]) == ("jdoe", "consult")
    assert row["ts"] == datetime(2026, 3, 2, 7, 15, tzinfo=UTC)  # Paris winter time


def test_sources_compile_custom_format_cannot_shadow_builtin() -> None:
    with pytest.raises(FormatError, match="already a shipped format"):
        available_formats([{"name": "apache_combined", "pattern": "(?P<time>.*)"}])


def test_sources_compile_bad_declaration_names_the_field() -> None:
    with pytest.raises(FormatError, match="fields"):
        available_formats([{"name": "x", "pattern": "(?P<time>.*)", "fields": {"nope": "1"}}])


def test_sources_compile_unnamed_groups_do_not_shift_named_fields() -> None:
    spec = FormatSpec(name="x", pattern=r"^(\w+|-) (?P<time>\S+ \S+) (?:by )?(?P<user>\w+)$")
    (row,) = parse(spec, ["GET 2026-03-02 08:15:00 by jdoe"])
    assert row["user"] == "jdoe"
    assert row["ts"] == datetime(2026, 3, 2, 7, 15, tzinfo=UTC)


SPLIT_SAMPLES = {
    "apache_combined": [
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
        '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)" '
        '"SESSION_ROUTE=ent5" TRACE-98063-lpBciGY9-cas1',
        '192.0.2.1 - - [10/Oct/2000:13:55:36 +0200] "GET / HTTP/1.1" 200 5 "-" "ua"',
    ],
    "cas_servicestats": [
        "[Fri Sep 25 00:22:07 CEST 2015] [IP:193.49.162.13] [ID:ens0] "
        "[TICKET:ST-316434-bW7cGs7vmbIJZMcD4yZW-cas1] "
        "[SERVICE:https://ent.univ-lorraine.fr/Login] "
        "[USER-AGENT:Mozilla/5.0 (Windows NT 6.3; WOW64; Trident/7.0; rv:11.0) like Gecko]",
    ],
    "shibboleth_idp_audit": [
        "20.30.40.50|2026-03-02T08:15:00.123Z|2026-03-02T08:15:00.456Z|jdoe|https://sp.example.org"
        "/shibboleth|_a1|urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport|"
        "2026-03-02T08:14:59.000Z|uid,mail|_n1|urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
        "|true|false|true|urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect|urn:oasis:names:tc:"
        "SAML:2.0:bindings:HTTP-POST|Success|urn:oasis:names:tc:SAML:2.0:status:Success||_s1|"
        "Mozilla/5.0",
    ],
}


@pytest.mark.parametrize("name", sorted(SPLIT_SAMPLES))
def test_sources_compile_split_fast_path_agrees_with_the_regex(name: str) -> None:
    """On thousands of mutated real lines (separators, brackets and quotes added, dropped or
    swapped), cutting with `split` gives exactly what the template's regex gives: the same
    fields, times and quarantine reasons. The fast path is only a faster way to the same rows.
    """
    spec = builtin_formats()[name]
    assert spec.split
    regex_only = spec.model_copy(update={"split": None})
    rng = random.Random(20261122)
    alphabet = ' "[]|:-/Ta0' + (spec.split or "")
    lines: list[str | None] = list(SPLIT_SAMPLES[name])
    for _ in range(3000):
        mutated = list(rng.choice(SPLIT_SAMPLES[name]))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(mutated))
            change = rng.random()
            if change < 0.4:
                mutated.insert(at, rng.choice(alphabet))
            elif change < 0.7:
                del mutated[at]
            else:
                mutated[at] = rng.choice(alphabet)
        lines.append("".join(mutated))
    fast, slow = (_comparable(parsed_table(s, lines)) for s in (spec, regex_only))
    assert sum(row["_reason"] is None for row in fast) > len(lines) // 3  # many are still good
    for line, got, expected in zip(lines, fast, slow, strict=True):
        assert got == expected, line


def _comparable(parsed: pa.Table) -> list[dict[str, Any]]:
    """Rows with times as integers (a mutated year may be past what Python dates hold)."""
    for name, integers in (("ts", pa.int64()), ("_local", pa.int64()), ("_day", pa.int32())):
        at = parsed.schema.get_field_index(name)
        parsed = parsed.set_column(at, name, parsed.column(name).cast(integers))
    rows: list[dict[str, Any]] = parsed.to_pylist()
    return rows


def test_sources_compile_times_found_by_value_when_the_time_query_reorders() -> None:
    """Each run of equal time texts is read once; should the time query not keep the order of
    the runs, each line still gets its own time (found by value)."""
    spec = builtin_formats()["apache_combined"]
    lines: list[str | None] = [
        f'192.0.2.1 - u{i} [10/Oct/2000:13:55:{i % 7:02d} +0200] "GET / HTTP/1.1" 200 5 "-" "ua"'
        for i in range(60)
    ]
    compiled = compile_format(spec)
    reordered = dataclasses.replace(
        compiled, time_sql=f"SELECT * FROM ({compiled.time_sql}) ORDER BY _time_raw DESC")
    expected = [datetime(2000, 10, 10, 11, 55, i % 7, tzinfo=UTC) for i in range(60)]
    for version in (compiled, reordered):
        parsed = parsed_table(spec, lines, compiled=version)
        assert parsed.column("ts").to_pylist() == expected
