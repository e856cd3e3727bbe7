"""Every shipped format parses the real sample lines of `tests/fixtures/samples/`.

The samples and their provenance are described in `docs/formats-sources.md`; the expected values
below were copied by hand from those files. Times are asserted in UTC, the installation's time
zone being Europe/Paris (as in `test_compile.parse`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from pydantic import ValidationError

from vigie.sources.compile import compile_format
from vigie.sources.spec import FormatSpec, available_formats, builtin_formats

SAMPLES = Path(__file__).parents[1] / "fixtures" / "samples"
REFERENCE = datetime(2026, 1, 10, tzinfo=UTC)  # "the file's last write", for syslog years

#: Shipped format -> the sample files that exercise it (each file is parsed whole below).
COVERAGE: dict[str, list[str]] = {
    "apache_combined": ["apache_combined.log", "nginx_main.log"],
    "cas_servicestats": ["cas_servicestats.log"],
    "cas_audit": ["cas_audit.log"],
    "cas_audit_line": ["cas_audit_singleline.log"],
    "cas_audit_json": ["cas_audit.json"],
    "cas_audit_json_prefixed": ["cas_audit_json_syslog.log", "cas_audit.json"],
    "shibboleth_idp_audit": ["shibboleth_idp_audit.log", "shibboleth_idp_process.log"],
    "shibboleth_idp_audit_v3": ["shibboleth_idp_audit_v3.log", "shibboleth_idp_process.log"],
    "nextcloud_audit": ["nextcloud_audit.json"],
    "dovecot": ["dovecot.log", "dovecot_ownlog.log"],
    "dovecot_iso": ["dovecot_ownlog.log"],
    "roundcube_userlogins": ["roundcube_userlogins.log"],
    "roundcube_userlogins_syslog": ["roundcube_userlogins_syslog.log"],
}
#: Shipped formats not read line by line, with where they are tested instead.
NOT_LINES = {
    # A table (database or CSV export) read by vigie.sources.moodle, not a log of lines: its
    # sample tests/fixtures/samples/moodle_logstore.csv is exercised by test_moodle.py.
    "moodle_logstore": "moodle_logstore.csv",
}

#: (format, sample) -> (good records, quarantined records), for every pair of COVERAGE.
COUNTS: dict[tuple[str, str], tuple[int, int]] = {
    # Line 15's user agent is truncated in the source (no closing quote): not the combined shape.
    ("apache_combined", "apache_combined.log"): (14, 1),
    # nginx's "main" is combined plus "$http_x_forwarded_for", which the format keeps as `rest`.
    ("apache_combined", "nginx_main.log"): (3, 0),
    ("cas_servicestats", "cas_servicestats.log"): (20, 0),
    # 4 audit blocks; the two cas.log lines between the 3rd and 4th block follow the 3rd block's
    # closing line and are glued to it (a record runs until the next "BEGIN").
    ("cas_audit", "cas_audit.log"): (4, 0),
    ("cas_audit_line", "cas_audit_singleline.log"): (1, 0),
    ("cas_audit_json", "cas_audit.json"): (2, 0),
    ("cas_audit_json_prefixed", "cas_audit_json_syslog.log"): (1, 0),
    ("cas_audit_json_prefixed", "cas_audit.json"): (2, 0),
    ("shibboleth_idp_audit", "shibboleth_idp_audit.log"): (2, 0),
    ("shibboleth_idp_audit_v3", "shibboleth_idp_audit_v3.log"): (3, 0),
    # idp-process.log mixes an IdP V2 audit record (line 1, V3 field list), a DEBUG line (2) and
    # an IdP V4 audit record (3): each format reads its own record and quarantines the others.
    ("shibboleth_idp_audit", "shibboleth_idp_process.log"): (1, 2),
    ("shibboleth_idp_audit_v3", "shibboleth_idp_process.log"): (1, 2),
    ("nextcloud_audit", "nextcloud_audit.json"): (9, 0),
    # Lines 5, 7 and 9 are "imap(user): Disconnected: Logged out": session ends, not logins.
    ("dovecot", "dovecot.log"): (11, 3),
    # dovecot_ownlog.log mixes three `log_timestamp` settings: ISO (lines 1-2, dovecot_iso), the
    # default (lines 3-4, dovecot) and a multilog TAI64N label (line 5, which no shipped format
    # reads: strptime has no TAI64N). Lines 2 and 4 are not logins (uid/home, logout).
    ("dovecot", "dovecot_ownlog.log"): (1, 4),
    ("dovecot_iso", "dovecot_ownlog.log"): (1, 4),
    ("roundcube_userlogins", "roundcube_userlogins.log"): (3, 0),
    ("roundcube_userlogins_syslog", "roundcube_userlogins_syslog.log"): (2, 0),
}


def parse(
    spec: FormatSpec | str,
    lines: Sequence[str | None],
    *,
    reference: datetime = REFERENCE,
    timezone: str = "Europe/Paris",
) -> list[dict[str, Any]]:
    """`test_compile.parse`, with the installation's time zone as a parameter."""
    if isinstance(spec, str):
        spec = builtin_formats()[spec]
    con = duckdb.connect()
    con.register("raw", pa.table({
        "line_no": pa.array(range(1, len(lines) + 1), pa.int64()),
        "byte_offset": pa.array([0] * len(lines), pa.int64()),
        "line": pa.array(list(lines), pa.string()),
    }))
    parsed = compile_format(spec).parse(con, "raw", timezone=timezone, reference=reference)
    rows: list[dict[str, Any]] = parsed.sort_by("line_no").to_pylist()
    return rows


def sample(name: str) -> list[str]:
    return list((SAMPLES / name).read_text(encoding="utf-8").splitlines())


def by_line(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["line_no"]: r for r in rows}


def canon(row: dict[str, Any]) -> tuple[Any, ...]:
    assert row["_reason"] is None, row["_reason"]
    return row["ts"], row["user"], row["ip"], row["action"], row["target"]


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


# --- coverage -----------------------------------------------------------------------------------


def test_sources_formats_every_shipped_format_has_a_sample() -> None:
    shipped = set(builtin_formats())
    assert shipped == set(COVERAGE) | set(NOT_LINES), "a format without sample (or a stale entry)"
    for files in [*COVERAGE.values(), list(NOT_LINES.values())]:
        for name in files:
            assert (SAMPLES / name).is_file(), name
    assert set(COUNTS) == {(f, s) for f, files in COVERAGE.items() for s in files}


def test_sources_formats_every_format_has_a_description() -> None:
    for name, spec in builtin_formats().items():
        assert len(spec.description) > 40, name


@pytest.mark.parametrize(("fmt", "name"), sorted(COUNTS))
def test_sources_formats_sample_counts(fmt: str, name: str) -> None:
    rows = parse(fmt, sample(name))
    good = [r for r in rows if r["_reason"] is None]
    bad = [r for r in rows if r["_reason"] is not None]
    assert (len(good), len(bad)) == COUNTS[(fmt, name)], [(r["line_no"], r["_reason"]) for r in bad]
    assert all(r["_reason"].startswith("does not match") for r in bad)


# --- CAS audit trail (Inspektr) -------------------------------------------------------------


def test_sources_formats_cas_audit_blocks() -> None:
    rows = by_line(parse("cas_audit", sample("cas_audit.log")))
    assert sorted(rows) == [1, 11, 21, 35]
    # "CST" (China here) is ambiguous: read in the installation's zone (Paris, CEST).
    assert canon(rows[1]) == (
        utc(2014, 7, 6, 11, 50, 49), "test", "192.168.0.110", "TICKET_GRANTING_TICKET_CREATED",
        None,
    )
    assert canon(rows[11]) == (
        utc(2016, 7, 16, 13, 50, 41), None, "192.168.1.2", "SERVICE_TICKET_VALIDATED", None,
    )
    # "GMT+08:00" is an offset; "ST-… for <url>" gives the service, the routing target.
    assert canon(rows[21]) == (
        utc(2020, 9, 9, 5, 47, 41), "admin", "172.23.122.86", "SERVICE_TICKET_CREATED",
        "http://xxx.xxx.xxx.xxx:8088",
    )
    assert canon(rows[35]) == (
        utc(2020, 9, 9, 5, 48, 4), None, "xxx.xxx.xxx.xxx", "SERVICE_TICKET_VALIDATE_FAILED", None,
    )
    assert builtin_formats()["cas_audit"].route_on == "target"


def test_sources_formats_cas_audit_zone_name_read_in_installation_zone() -> None:
    """Java prints the JVM's own zone: "EDT" is right once the installation says New York."""
    lines = sample("cas_audit.log")[10:20]
    (row,) = parse("cas_audit", lines, timezone="America/New_York")
    assert row["ts"] == utc(2016, 7, 16, 19, 50, 41)


def test_sources_formats_cas_audit_line() -> None:
    (line,) = sample("cas_audit_singleline.log")
    (row,) = parse("cas_audit_line", [line])
    # CAS 7 writes WHEN in UTC: the installation's zone does not apply.
    assert canon(row) == (
        utc(2023, 7, 15, 10, 48, 10, 802814), "casuser", "0:0:0:0:0:0:0:1",
        "SERVICE_TICKET_CREATED", "https://localhost:9859/anything/1",
    )
    # The same record after CAS' default log4j prefix, with the trailing separator of current
    # code and a whole second (LocalDateTime.toString() then prints no fraction).
    variant = ("2023-07-15 12:48:10,802 INFO [org.apereo.inspektr.audit.support."
               "Slf4jLoggingAuditTrailManager] - " + line.replace(".802814875", "") + "|")
    (row,) = parse("cas_audit_line", [variant])
    assert canon(row)[:2] == (utc(2023, 7, 15, 10, 48, 10), "casuser")


def test_sources_formats_cas_audit_json() -> None:
    lines = sample("cas_audit.json")
    for fmt in ("cas_audit_json", "cas_audit_json_prefixed"):
        first, second = parse(fmt, lines)
        assert canon(first) == (
            utc(2021, 12, 20, 9, 38, 6), "user1", "172.20.11.189",
            "TICKET_GRANTING_TICKET_CREATED", None,
        )
        assert canon(second) == (
            utc(2021, 12, 20, 9, 38, 6), "user1", "172.20.11.189", "SERVICE_TICKET_CREATED",
            "https://idp.univ-paris1.fr/idp/Authn/External?conversation=e1s1",
        )


def test_sources_formats_cas_audit_json_after_syslog_and_log4j_prefixes() -> None:
    (line,) = sample("cas_audit_json_syslog.log")
    (row,) = parse("cas_audit_json_prefixed", [line])
    # `what` is a JSON object escaped as a string; its "service" is the routing target.
    assert canon(row) == (
        utc(2025, 11, 14, 13, 5, 57), None, "10.0.1.76", "SERVICE_ACCESS_ENFORCEMENT_TRIGGERED",
        "https://someservice.tld",
    )
    # Without the prefix the strict JSON format reads it too; with it, it is not JSON.
    bare = line[line.index("<{") + 1: line.rindex("}") + 1]
    assert canon(parse("cas_audit_json", [bare])[0]) == canon(row)
    assert parse("cas_audit_json", [line])[0]["_reason"] == "does not match format cas_audit_json"


# --- Shibboleth IdP ---------------------------------------------------------------------------


def test_sources_formats_shibboleth_v4() -> None:
    first, second = parse("shibboleth_idp_audit", sample("shibboleth_idp_audit.log"))
    assert canon(first) == (
        utc(2021, 2, 23, 11, 57, 38, 78869), "username", "172.20.156.241", "sso",
        "https://whoami.cloud.sh.edu.cn/shibboleth",
    )
    assert first["status"] == "Success"
    assert first["user_agent"].endswith("Edg/88.0.705.74")
    assert canon(second) == (
        utc(2022, 3, 8, 16, 49, 25, 513084), "user3", "203.0.113.52", "sso",
        "https://app.thousandeyes.com",
    )


def test_sources_formats_shibboleth_v4_fraction_digits_vary() -> None:
    """ISO_INSTANT drops trailing zeros: 0 to 9 fractional digits."""
    (line, _) = sample("shibboleth_idp_audit.log")
    for written, micro in ((".078869Z", 78869), (".078Z", 78000), (".078869123Z", 78869),
                           ("Z", 0)):
        changed = line.replace("2021-02-23T11:57:38.078869Z", "2021-02-23T11:57:38" + written)
        (row,) = parse("shibboleth_idp_audit", [changed])
        assert row["ts"] == utc(2021, 2, 23, 11, 57, 38, micro), written


def test_sources_formats_shibboleth_v3() -> None:
    rows = parse("shibboleth_idp_audit_v3", sample("shibboleth_idp_audit_v3.log"))
    assert canon(rows[0]) == (
        utc(2017, 7, 20, 13, 1, 56), "user1", None, "sso", "https://squiz.cardiff.ac.uk/shibboleth-sp",
    )
    # A SOAP artifact query: no user, and the profile is not single sign-on.
    assert canon(rows[1]) == (
        utc(2017, 7, 21, 10, 22), None, None,
        "http://shibboleth.net/ns/profiles/saml2/query/artifact",
        "https://test.ukfederation.org.uk/entity",
    )
    # IdP 2 line: older SSO profile URN, trailing comma in the attribute list.
    assert canon(rows[2]) == (
        utc(2017, 1, 9, 0, 0, 37), "user2", None, "sso", "https://squiz.cardiff.ac.uk/shibboleth-sp",
    )


def test_sources_formats_shibboleth_v3_and_v4_do_not_mix() -> None:
    """V3 begins with the time (basic ISO), V4 with the client address: each rejects the other."""
    v3, v4 = sample("shibboleth_idp_audit_v3.log"), sample("shibboleth_idp_audit.log")
    assert all(r["_reason"] for r in parse("shibboleth_idp_audit", v3))
    assert all(r["_reason"] for r in parse("shibboleth_idp_audit_v3", v4))
    # Same record seen by both IdP generations: V4 has the client address and user agent.
    (old,) = parse("shibboleth_idp_audit_v3", sample("shibboleth_idp_process.log")[:1])
    assert (old["ip"], old["user_agent"], old["user"]) == (None, None, "admin")
    assert old["ts"] == utc(2016, 7, 17, 16, 25, 19)
    assert old["target"] == "https://sp.gluu.org/shibboleth"


def test_sources_formats_shibboleth_v4_inside_idp_process_log() -> None:
    rows = by_line(parse("shibboleth_idp_audit", sample("shibboleth_idp_process.log")))
    assert canon(rows[3]) == (
        utc(2022, 3, 8, 16, 49, 25, 513084), "user3", "203.0.113.52", "sso",
        "https://app.thousandeyes.com",
    )


# --- Nextcloud --------------------------------------------------------------------------------


def test_sources_formats_nextcloud_audit() -> None:
    rows = parse("nextcloud_audit", sample("nextcloud_audit.json"))
    assert canon(rows[0]) == (
        utc(2016, 7, 30, 9, 3, 23), "user.name", "95.90.XXX.XXX", "login",
        "/remote.php/caldav/calendars/user.name/project-calendar/",
    )
    assert rows[0]["user_agent"] is None  # Nextcloud 10 had no userAgent key
    # "Login attempt": the account field is "--"; the login given is in the message.
    assert canon(rows[6]) == (
        utc(2021, 8, 4, 6, 9, 13), "user1", "203.0.113.222", "login-attempt",
        "/remote.php/dav/files/user1/",
    )
    assert rows[6]["user_agent"] == "RaiDrive/2020.11.38.0"
    assert canon(rows[8]) == (
        utc(2021, 8, 4, 6, 27, 35), "user2", "203.0.113.222", "login", "/remote.php/webdav/",
    )
    assert rows[8]["user_agent"] == (
        "Mozilla/5.0 (Windows) mirall/3.0.2stable-Win64 (build 20200924) (Nextcloud)"
    )
    assert [r["action"] for r in rows].count("login") == 6


# --- Dovecot ----------------------------------------------------------------------------------


def test_sources_formats_dovecot_logins_and_failures() -> None:
    rows = by_line(parse("dovecot", sample("dovecot.log")))
    assert canon(rows[1]) == (
        utc(2025, 5, 27, 15, 31, 57), "postmaster", "198.51.100.193", "login", "imap",
    )
    # "Oct 5" (single space, as extracted from the paste) and no session element.
    assert canon(rows[4]) == (
        utc(2025, 10, 5, 8, 22, 28), "user@domain.com", "127.0.0.1", "login", "imap",
    )
    assert canon(rows[11]) == (
        utc(2025, 12, 12, 10, 19, 11), None, "203.0.113.21", "login-failed", "pop3",
    )
    assert canon(rows[12]) == (
        utc(2025, 6, 13, 14, 30, 54), "user1", "203.0.113.87", "login-failed", "imap",
    )
    # Dovecot 2.4: "dovecot[pid]" and "Login aborted: … (auth_failed)".
    assert canon(rows[13]) == (
        utc(2025, 6, 12, 17, 7, 29), "test", "192.0.2.241", "login-failed", "imap",
    )


def test_sources_formats_dovecot_padded_day() -> None:
    """Syslog pads a one-digit day with a space ("Oct  5"): both forms are read alike."""
    line = sample("dovecot.log")[3]
    padded = line.replace("Oct 5 ", "Oct  5 ")
    assert padded != line
    assert canon(parse("dovecot", [padded])[0]) == canon(parse("dovecot", [line])[0])


def test_sources_formats_dovecot_year_across_new_year() -> None:
    """A December line read in January belongs to the year before."""
    december = sample("dovecot.log")[10]  # Dec 12 11:19:11
    (row,) = parse("dovecot", [december], reference=datetime(2026, 1, 3, tzinfo=UTC))
    assert row["ts"] == utc(2025, 12, 12, 10, 19, 11)
    (row,) = parse("dovecot", [december], reference=datetime(2025, 12, 20, tzinfo=UTC))
    assert row["ts"] == utc(2025, 12, 12, 10, 19, 11)
    first = sample("dovecot.log")[0]
    lines = [first.replace("May 27 17:31:57", "Dec 31 23:59:58"),
             first.replace("May 27 17:31:57", "Jan  1 00:00:03")]
    rows = parse("dovecot", lines, reference=datetime(2026, 1, 1, 0, 30, tzinfo=UTC))
    assert [r["ts"] for r in rows] == [utc(2025, 12, 31, 22, 59, 58), utc(2025, 12, 31, 23, 0, 3)]


def test_sources_formats_dovecot_own_log_file() -> None:
    lines = sample("dovecot_ownlog.log")
    default = by_line(parse("dovecot", lines))
    assert canon(default[3]) == (utc(2025, 11, 26, 8, 40, 43), "user2", "::1", "login", "imap")
    iso = by_line(parse("dovecot_iso", lines))
    assert canon(iso[1]) == (
        utc(2012, 1, 30, 8, 52, 14), "user1", "198.51.100.78", "login", "imap",
    )
    # The multilog line is an authentication failure that neither reads (TAI64N label).
    assert default[5]["_reason"] and iso[5]["_reason"]


# --- Roundcube --------------------------------------------------------------------------------


def test_sources_formats_roundcube_file_driver() -> None:
    rows = parse("roundcube_userlogins", sample("roundcube_userlogins.log"))
    assert canon(rows[0]) == (
        utc(2015, 5, 10, 17, 2, 52), "sampleuser", "1.2.3.4", "login-failed", None,
    )
    assert rows[0]["status"] == "0"
    assert canon(rows[1])[1] == "foo.bar-admin@some-thing.example.com"
    # Roundcube >= 1.1 puts the session's first characters first: "<4z506z6r> ".
    assert canon(rows[2]) == (
        utc(2015, 5, 10, 17, 2, 52), "admin@example.com", "1.2.3.4", "login-failed", None,
    )


def test_sources_formats_roundcube_successful_login_and_proxy() -> None:
    """No real file-driver success line exists: the syslog one, rewritten as the file driver."""
    success = sample("roundcube_userlogins_syslog.log")[0]
    message = success[success.index("<48uok3io>"):]
    line = f"[23-Mar-2025 13:13:16 +0100]: {message}"
    (row,) = parse("roundcube_userlogins", [line])
    assert canon(row) == (utc(2025, 3, 23, 12, 13, 16), "user1", "203.0.113.209", "login", None)
    assert row["status"] is None
    behind = line.replace("from 203.0.113.209", "from 10.0.0.5 (X-Real-IP: 203.0.113.209)")
    assert parse("roundcube_userlogins", [behind])[0]["ip"] == "203.0.113.209"


def test_sources_formats_roundcube_syslog_driver() -> None:
    first, second = parse("roundcube_userlogins_syslog", sample("roundcube_userlogins_syslog.log"))
    assert canon(first) == (utc(2025, 3, 23, 12, 13, 16), "user1", "203.0.113.209", "login", None)
    assert canon(second) == (
        utc(2025, 3, 26, 11, 28, 50), "user2", "203.0.113.13", "login-failed", None,
    )
    assert second["status"] == "0"


# --- formats shipped before these ---------------------------------------------------------------


def test_sources_formats_apache_and_cas_servicestats_samples() -> None:
    rows = parse("apache_combined", sample("apache_combined.log"))
    assert canon(rows[0]) == (utc(2000, 10, 10, 20, 55, 36), "frank", "127.0.0.1", "GET",
                              "/apache_pb.gif")
    assert canon(rows[11]) == (utc(2015, 5, 17, 16, 5, 27), None, "192.0.2.8", "HEAD",
                               "/projects/xdotool/")
    rows = parse("cas_servicestats", sample("cas_servicestats.log"))
    assert canon(rows[0])[:3] == (utc(2015, 9, 24, 22, 22, 7), "etud0", "192.0.2.1")
    assert canon(rows[19]) == (utc(2015, 9, 25, 4, 49, 15), "ens19", "192.0.2.15",
                               "service-ticket",
                               "https://mail.univ-lorraine.fr/zimbra/preauth/preauthUL_PERS.jsp")


# --- docs/formats.md ------------------------------------------------------------------------


def test_sources_formats_documented_examples_work() -> None:
    """The `[[formats]]` of docs/formats.md are accepted, and its example line parses."""
    doc = (Path(__file__).parents[2] / "docs" / "formats.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]]
    declared = [f for b in blocks for f in tomllib.loads(b).get("formats", [])]
    assert [f["name"] for f in declared] == ["adeweb", "myapp_json", "myapp_blocks"]
    formats = available_formats(declared)
    for name in builtin_formats():
        assert f"### `{name}`" in doc or f"`{name}` and `" in doc or f"and `{name}`" in doc, name
    (row,) = parse(formats["adeweb"], [
        "2026-03-02 08:15:00,123 [INFO] auth JDoe from 192.0.2.7 (Firefox/123.0): login ok",
    ])
    assert canon(row) == (utc(2026, 3, 2, 7, 15, 0, 123000), "jdoe", "192.0.2.7", "login", None)
    assert row["user_agent"] == "Firefox/123.0"
    (row,) = parse(formats["myapp_json"], [
        '{"ts":"2026-03-02T08:15:00+01:00","auth":{"login":"jdoe"},"client":"192.0.2.7",'
        '"event":"open"}',
    ])
    assert canon(row) == (utc(2026, 3, 2, 7, 15), "jdoe", "192.0.2.7", "open", None)
    (row,) = parse(formats["myapp_blocks"], [
        "--- session 02/03/2026 08:15:00", "login: jdoe", "from: 192.0.2.7",
    ])
    assert canon(row) == (utc(2026, 3, 2, 7, 15), "jdoe", "192.0.2.7", "session", None)


def test_sources_formats_time_zone_of_a_format_is_checked() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        FormatSpec(name="x", pattern="(?P<time>.*)", timezone="Europe/Pariss")


def test_sources_formats_truncated_login_lines_are_quarantined() -> None:
    """A line cut short (a crash, a full disk) must not become a login without user or address."""
    cases = {
        "dovecot": sample("dovecot.log")[0],
        "roundcube_userlogins": sample("roundcube_userlogins.log")[2],
        "roundcube_userlogins_syslog": sample("roundcube_userlogins_syslog.log")[0],
        "shibboleth_idp_audit": sample("shibboleth_idp_audit.log")[1],
        "nextcloud_audit": sample("nextcloud_audit.json")[5],
        "cas_audit_json": sample("cas_audit.json")[1],
    }
    for fmt, line in cases.items():
        assert parse(fmt, [line])[0]["_reason"] is None, fmt
        for cut in (len(line) * 2 // 5, line.index(" from ") + 9 if " from " in line else 40):
            assert parse(fmt, [line[:cut]])[0]["_reason"] is not None, (fmt, line[:cut])
