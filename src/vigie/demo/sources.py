"""One small function per log format: turn drawn events into that format's real lines.

Each generator takes the shared :class:`Context` (population, calendar, the CAS events every
web service starts from) and returns a :class:`Source`: what it wrote and how the config should
declare it. :data:`GENERATORS` maps a shipped format name to its generator; `generate()` runs
only those whose format vigie ships, so the config always validates. Adding a format is
writing one function here and one line in :data:`GENERATORS`.

Line shapes follow the real samples in `tests/fixtures/samples/` (see docs/formats-sources.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigie.demo import catalog as cat
from vigie.demo.events import BOT0, PHONE, UA_POOL, Events, draw_events, ua_text
from vigie.demo.people import Population
from vigie.demo.rhythm import Calendar
from vigie.demo.text import (
    Damage,
    Part,
    as_text,
    join,
    local_time,
    pick,
    pick_damage,
    random_tokens,
    spoil_times,
    write_lines,
)

__all__ = ["GENERATORS", "Context", "Source"]


@dataclass
class Context:
    """What every generator shares."""

    out: Path
    seed: int
    population: Population
    calendar: Calendar
    scale: float
    cas: Events  # every CAS service ticket, sorted by time
    stream: int = 0  # see `generate`: other events for the same people

    def rng(self, name: str) -> np.random.Generator:
        """An independent, reproducible stream per source."""
        return np.random.default_rng(
            [self.seed, zlib.crc32(name.encode()), *([self.stream] if self.stream else [])])

    def volume(self, base: int) -> int:
        return round(base * self.scale)

    def of_service(self, name: str) -> Events:
        index = [s.name for s in cat.SERVICES].index(name)
        return self.cas.take(np.flatnonzero(self.cas.service == index))

    @property
    def end_mtime(self) -> float:
        """The last second of the window (a log file's modification time)."""
        return float(self.calendar.day_start[-1] + 86_399 - self.calendar.offset[-1, 23])


@dataclass
class Source:
    """A generated source: its files and its `[[sources]]` entry."""

    name: str
    format: str
    paths: list[str]
    comment: str
    service: str | None = None
    routes: list[tuple[str, str]] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # file (relative) -> line count
    damaged: dict[str, list[int]] = field(default_factory=dict)  # file -> spoilt line numbers


def _record(
    ctx: Context, source: Source, written: dict[Path, list[int]], parts: list[Part]
) -> None:
    for part in parts:
        key = part.path.relative_to(ctx.out).as_posix()
        source.lines[key] = part.stop - part.start
        source.damaged[key] = written[part.path]


def _offset_text(offset: npt.NDArray[np.int64], *, colon: bool = False) -> pa.Array:
    """+0100 / +0200 (or +01:00 / +02:00) per event."""
    hours = offset // 3600
    labels = [f"+{h:02d}:00" if colon else f"+{h:02d}00" for h in range(0, 3)]
    return pick(labels, np.clip(hours, 0, 2))


def _sessions(
    rng: np.random.Generator, starts: npt.NDArray[np.int64], mean_hits: float, gap: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sessions expanded into hits: (session of each hit, its rank, seconds after the start)."""
    hits = np.minimum(1 + rng.geometric(1.0 / max(mean_hits - 1.0, 1.0), size=len(starts)), 60)
    session = np.repeat(np.arange(len(starts), dtype=np.int64), hits)
    first = np.cumsum(hits) - hits
    rank = np.arange(len(session), dtype=np.int64) - first[session]
    gaps = np.where(rank == 0, 0.0, rng.exponential(gap, size=len(session)))
    elapsed = np.cumsum(gaps)
    elapsed = elapsed - elapsed[first][session]
    return session, rank, elapsed.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# ESUP CAS serviceStats


def cas_servicestats(ctx: Context) -> Source:
    rng = ctx.rng("cas")
    ev = ctx.cas
    n = len(ev)
    damage = pick_damage(rng, n)
    zone_name = pick(["CET", "CEST"], (ev.offset == 7200).astype(np.int64))
    year = as_text(ev.local.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970)
    times = join(local_time(ev.local, "%a %b %d %H:%M:%S"), " ", zone_name, " ", year)
    times = spoil_times(times, damage, "Thu Foo 31 27:61:99 CEST 2O26")
    urls = [u for s in cat.SERVICES for u in s.urls]
    first_url = np.cumsum([0] + [len(s.urls) for s in cat.SERVICES])[:-1]
    n_urls = np.array([len(s.urls) for s in cat.SERVICES])
    url = first_url[ev.service] + (rng.integers(0, 1 << 30, n) % n_urls[ev.service])
    ticket = as_text(rng.integers(100_000, 900_000) + np.arange(n, dtype=np.int64))
    node = pick(["cas1", "cas2"], rng.integers(0, 2, n))
    lines = join(
        "[",
        times,
        "] [IP:",
        ev.ip_text(),
        "] [ID:",
        pick(ctx.population.uid, ev.person),
        "] [TICKET:ST-",
        ticket,
        "-",
        random_tokens(rng, n, 20),
        "-",
        node,
        "] [SERVICE:",
        pick(urls, url),
        "] [USER-AGENT:",
        ua_text(ev),
        "]",
    )
    folder = ctx.out / "logs" / "cas"
    # logrotate: the older part of the window was rotated and compressed.
    cut = int(np.searchsorted(ev.local, ctx.calendar.day_start[len(ctx.calendar.days) * 2 // 5]))
    parts = [
        Part(folder / "serviceStats.log.1.gz", 0, cut, gzip=True),
        Part(folder / "serviceStats.log", cut, n),
    ]
    source = Source(
        name="cas",
        format="cas_servicestats",
        paths=["logs/cas/serviceStats.log*"],
        comment="ESUP CAS serviceStats: one line per service ticket, routed on the service URL",
        routes=[(s.host, s.name) for s in cat.SERVICES],
    )
    _record(ctx, source, write_lines(lines, parts, damage, mtime=ctx.end_mtime), parts)
    return source


# ---------------------------------------------------------------------------------------------
# Apache combined: GLPI helpdesk behind mod_auth_cas (%u = uid)

_GLPI_PAGES: tuple[tuple[str, str, bool, float, float], ...] = (
    # path, method, takes an id, weight, mean bytes
    ("/front/central.php", "GET", False, 6.0, 38_000),
    ("/front/ticket.php", "GET", False, 5.0, 52_000),
    ("/front/ticket.form.php?id=", "GET", True, 8.0, 61_000),
    (
        "/ajax/common.tabs.php?_target=/front/ticket.form.php&_itemtype=Ticket&_glpi_tab=Ticket$main&id=",
        "GET",
        True,
        8.0,
        24_000,
    ),
    ("/ajax/getDropdownValue.php", "POST", False, 4.0, 1_800),
    ("/front/ticket.form.php", "POST", False, 1.5, 0),
    ("/front/helpdesk.faq.php", "GET", False, 1.5, 21_000),
    ("/front/knowbaseitem.form.php?id=", "GET", True, 1.0, 17_000),
    ("/front/document.send.php?docid=", "GET", True, 1.0, 240_000),
    ("/ajax/notifications.php", "GET", False, 3.0, 220),
    ("/public/lib/base.min.css?v=10.0.16", "GET", False, 2.0, 0),
    ("/pics/favicon.ico", "GET", False, 1.0, 0),
)


def apache_combined(ctx: Context) -> Source:
    rng = ctx.rng("helpdesk")
    cas = ctx.of_service("helpdesk")
    session, rank, elapsed = _sessions(rng, cas.local, mean_hits=8.0, gap=25.0)
    hits = cas.take(session)
    hits.local = hits.local + 1 + elapsed
    m = len(hits)
    weights = np.array([p[3] for p in _GLPI_PAGES])
    page = rng.choice(len(_GLPI_PAGES), size=m, p=weights / weights.sum())
    page = np.where(rank <= 1, 0, page)  # the landing page, first unauthenticated then with a user
    takes_id = np.array([p[2] for p in _GLPI_PAGES])[page]
    path = join(
        pick([p[0] for p in _GLPI_PAGES], page),
        pc.if_else(pa.array(takes_id), as_text(rng.integers(1_200, 48_000, m)), ""),
    )
    method = pick([p[1] for p in _GLPI_PAGES], page)
    mean = np.array([p[4] for p in _GLPI_PAGES])[page]
    size = np.where(mean > 0, rng.lognormal(np.log(np.maximum(mean, 1.0)), 0.4), 0).astype(np.int64)
    static = mean == 0
    post_form = np.array(
        [p[0] == "/front/ticket.form.php" and p[1] == "POST" for p in _GLPI_PAGES]
    )[page]
    status = np.where(static, np.where(rng.random(m) < 0.7, 304, 200), 200)
    status = np.where(post_form, 302, status)
    status = np.where(rank == 0, 302, status)
    status = np.where((~static) & (rng.random(m) < 0.004), 404, status)
    size = np.where(np.isin(status, [302, 304]), 0, np.where(static, 3_400, size))
    user = pc.if_else(pa.array(rank == 0), "-", pick(ctx.population.uid, hits.person))
    host = f"https://helpdesk.{cat.DOMAIN}"
    referer = pc.if_else(pa.array(rank == 0), "-", f"{host}/front/central.php")
    ip = hits.ip_text()
    ua = ua_text(hits)

    # The monitoring probe every 5 minutes, and a few crawlers on robots.txt.
    days = len(ctx.calendar.days)
    probes = days * 288
    probe_local = ctx.calendar.day_start[0] + 300 * np.arange(probes, dtype=np.int64) + 7
    bots = max(1, round(days * 4))
    bot_day = rng.integers(0, days, bots)
    bot_local = ctx.calendar.day_start[bot_day] + rng.integers(0, 86_400, bots)
    extra_local = np.concatenate([probe_local, bot_local])
    k = len(extra_local)
    day_index = np.clip((extra_local - ctx.calendar.day_start[0]) // 86_400, 0, days - 1)
    extra_offset = ctx.calendar.offset[day_index, (extra_local % 86_400) // 3600]
    is_probe = np.arange(k) < probes
    extra_ip = pc.if_else(
        pa.array(is_probe),
        "10.10.0.5",
        pick(["203.0.113.77", "198.51.100.201"], rng.integers(0, 2, k)),
    )
    extra_ua = pick(UA_POOL, np.where(is_probe, BOT0 + 2, BOT0 + rng.integers(0, 2, k)))

    local = np.concatenate([hits.local, extra_local])
    offset = np.concatenate([hits.offset, extra_offset])
    order = np.argsort(local, kind="stable")
    local, offset = local[order], offset[order]
    n = len(local)
    damage = pick_damage(rng, n)
    times = join(local_time(local, "%d/%b/%Y:%H:%M:%S"), " ", _offset_text(offset))
    times = spoil_times(times, damage, "31/Foo/2026:27:61:99 +0100")

    def both(a: pa.Array, b: pa.Array | str) -> pa.Array:
        b_arr = b if isinstance(b, pa.Array) else pa.array([b] * k, pa.string())
        return pc.take(pa.concat_arrays([a, b_arr]), pa.array(order))

    request = join(
        both(method, "GET"),
        " ",
        both(path, pick(["/status.php", "/robots.txt"], np.where(is_probe, 0, 1))),
        " HTTP/1.1",
    )
    size_text = pc.if_else(pa.array(size == 0), "-", as_text(size))
    extra_size = pick(["62", "26"], np.where(is_probe, 0, 1))
    lines = join(
        both(ip, extra_ip),
        " - ",
        both(user, "-"),
        " [",
        times,
        '] "',
        request,
        '" ',
        both(as_text(status), "200"),
        " ",
        both(size_text, extra_size),
        ' "',
        both(referer, "-"),
        '" "',
        both(ua, extra_ua),
        '"',
    )
    folder = ctx.out / "logs" / "helpdesk"
    parts = [Part(folder / "glpi_access.log", 0, n)]
    source = Source(
        name="helpdesk",
        format="apache_combined",
        paths=["logs/helpdesk/glpi_access.log*"],
        comment="GLPI helpdesk behind mod_auth_cas: Apache combined, %u is the CAS uid",
        service="helpdesk",
    )
    _record(ctx, source, write_lines(lines, parts, damage, mtime=ctx.end_mtime), parts)
    return source


# ---------------------------------------------------------------------------------------------
# Shibboleth IdP v4/v5 audit log

_SAML_ATTRIBUTES = (
    "eduPersonPrincipalName,mail,displayName,eduPersonAffiliation",
    "eduPersonPrincipalName,eduPersonTargetedID,mail,givenName,sn",
    "eduPersonPrincipalName,mail,displayName",
    "eduPersonTargetedID,eduPersonAffiliation,eduPersonScopedAffiliation",
)


def _iso_utc(seconds: npt.NDArray[np.int64], rng: np.random.Generator) -> pa.Array:
    """ISO_INSTANT with 6 fractional digits (none ending in 0, as Java drops trailing zeros)."""
    micro = rng.integers(10_000, 100_000, len(seconds)) * 10 + rng.integers(1, 10, len(seconds))
    return join(local_time(seconds, "%Y-%m-%dT%H:%M:%S"), ".", as_text(micro), "Z")


def shibboleth_idp_audit(ctx: Context) -> Source:
    rng = ctx.rng("idp")
    parts_ev = [
        draw_events(rng, ctx.population, ctx.calendar, p, ctx.volume(p.volume), tag=i)
        for i, p in enumerate(cat.SAML_SERVICES)
    ]
    ev = Events.concat(parts_ev).sorted()
    n = len(ev)
    damage = pick_damage(rng, n)
    utc = ev.utc
    start = utc - rng.integers(1, 15, n)
    auth = utc - rng.integers(0, 4, n)
    when = spoil_times(_iso_utc(utc, rng), damage, "2026-13-45T27:61:99.123456Z")
    sp = pick([p.urls[0] for p in cat.SAML_SERVICES], ev.service)
    attrs = pick(_SAML_ATTRIBUTES, ev.service % len(_SAML_ATTRIBUTES))
    lines = join(
        ev.ip_text(),
        "|",
        _iso_utc(start, rng),
        "|",
        when,
        "|",
        pick(ctx.population.uid, ev.person),
        "|",
        sp,
        "|_",
        random_tokens(rng, n, 32, hexa=True),
        "|password|",
        _iso_utc(auth, rng),
        "|",
        attrs,
        "|AAdzZWNyZXQx",
        random_tokens(rng, n, 120),
        "==|transient|false|false|",
        "AES128-GCM|Redirect|POST||Success||",
        random_tokens(rng, n, 64, hexa=True),
        "|",
        ua_text(ev),
    )
    parts = [Part(ctx.out / "logs" / "idp" / "idp-audit.log", 0, n)]
    source = Source(
        name="idp",
        format="shibboleth_idp_audit",
        paths=["logs/idp/idp-audit.log*"],
        comment="Shibboleth IdP audit log (V4 default format), routed on the SP entityID",
        routes=[(p.host, p.name) for p in cat.SAML_SERVICES],
    )
    _record(ctx, source, write_lines(lines, parts, damage, mtime=ctx.end_mtime), parts)
    return source


# ---------------------------------------------------------------------------------------------
# Nextcloud admin_audit (JSON lines)

_NC_FILES = (
    "Documents/rapport.pdf",
    "Documents/cours-semaine.odt",
    "Photos/IMG_2041.jpg",
    "Partages/compte-rendu-conseil.docx",
    "Documents/budget-2026.xlsx",
    "Notes/todo.md",
)


def nextcloud_audit(ctx: Context) -> Source:
    rng = ctx.rng("nextcloud")
    web = ctx.of_service("nextcloud")
    clients = draw_events(
        rng,
        ctx.population,
        ctx.calendar,
        cat.NEXTCLOUD_CLIENTS,
        ctx.volume(cat.NEXTCLOUD_CLIENTS.volume),
    )
    # Web: a CAS login, then a few file actions. Clients: "Login attempt" then "successful".
    session, rank, elapsed = _sessions(rng, web.local, mean_hits=2.5, gap=40.0)
    w = web.take(session)
    w.local = w.local + 2 + elapsed
    c_session = np.repeat(np.arange(len(clients), dtype=np.int64), 2)
    c = clients.take(c_session)
    c_rank = np.tile(np.array([0, 1], dtype=np.int64), len(clients))
    n_client_ua = len(cat.UA_NEXTCLOUD_CLIENTS)
    session_ua = np.where(
        clients.device == PHONE,
        3 + rng.integers(0, 2, len(clients)),
        rng.integers(0, 3, len(clients)),
    )
    c_ua = session_ua[c_session] % n_client_ua
    # kind: 0 web login, 1 file accessed, 2 file written, 3 client attempt, 4 client success
    kind = np.concatenate(
        [
            np.where(rank == 0, 0, np.where(rng.random(len(w)) < 0.75, 1, 2)),
            np.where(c_rank == 0, 3, 4),
        ]
    )
    ev = Events.concat([w, c])
    ua_index = np.concatenate([w.ua, len(UA_POOL) + c_ua])
    req = np.concatenate([session, len(web) + c_session])
    order = np.argsort(ev.local, kind="stable")
    ev, kind, ua_index, req = ev.take(order), kind[order], ua_index[order], req[order]
    n = len(ev)
    damage = pick_damage(rng, n)
    uid = pick(ctx.population.uid, ev.person)
    time = join(local_time(ev.local, "%Y-%m-%dT%H:%M:%S"), _offset_text(ev.offset, colon=True))
    time = spoil_times(time, damage, "2026-13-45T27:61:99+01:00")
    file = pick(_NC_FILES, rng.integers(0, len(_NC_FILES), n))
    is_client = kind >= 3
    # A request id shared by the two lines of a client login.
    req_id = pc.take(random_tokens(rng, len(web) + len(clients), 20), pa.array(req))
    method = pick(["GET", "GET", "PUT", "PROPFIND", "PROPFIND"], kind)
    url = pc.if_else(
        pa.array(is_client),
        join("/remote.php/dav/files/", uid, "/"),
        pc.if_else(
            pa.array(kind == 0),
            "/apps/user_cas/login",
            join("/remote.php/dav/files/", uid, "/", file),
        ),
    )
    message = pc.if_else(
        pa.array(kind == 0),
        join('Login successful: \\"', uid, '\\"'),
        pc.if_else(
            pa.array(kind == 3),
            join('Login attempt: \\"', uid, '\\"'),
            pc.if_else(
                pa.array(kind == 4),
                join('Login successful: \\"', uid, '\\"'),
                join(
                    pick(["", 'File accessed: \\"/', 'File written to: \\"/'], np.minimum(kind, 2)),
                    file,
                    '\\"',
                ),
            ),
        ),
    )
    user = pc.if_else(pa.array(kind == 3), "--", uid)
    ua = pick(UA_POOL + cat.UA_NEXTCLOUD_CLIENTS, ua_index)
    lines = join(
        '{"reqId":"',
        req_id,
        '","level":1,"time":"',
        time,
        '","remoteAddr":"',
        ev.ip_text(),
        '","user":"',
        user,
        '","app":"admin_audit","method":"',
        method,
        '","url":"',
        url,
        '","message":"',
        message,
        '","userAgent":"',
        ua,
        '","version":"30.0.4.1"}',
    )
    parts = [Part(ctx.out / "logs" / "nextcloud" / "audit.log", 0, n)]
    source = Source(
        name="nextcloud",
        format="nextcloud_audit",
        paths=["logs/nextcloud/audit.log*"],
        comment="Nextcloud admin_audit log (JSON lines): web logins, file actions, sync clients",
        service="nextcloud",
    )
    _record(ctx, source, write_lines(lines, parts, damage, mtime=ctx.end_mtime), parts)
    return source


# ---------------------------------------------------------------------------------------------
# Dovecot IMAP/POP3 logins (syslog mail.log)


def dovecot(ctx: Context) -> Source:
    rng = ctx.rng("dovecot")
    ev = draw_events(
        rng, ctx.population, ctx.calendar, cat.MAIL_CLIENTS, ctx.volume(cat.MAIL_CLIENTS.volume)
    ).sorted()
    n = len(ev)
    damage = pick_damage(rng, n)
    # rsyslog's traditional format pads single-digit days with a space: "Nov  5".
    day = ev.local.astype("datetime64[s]").astype("datetime64[D]")
    dom = (day - day.astype("datetime64[M]")).astype(np.int64) + 1
    pad = pick([" ", ""], (dom >= 10).astype(np.int64))
    time = join(local_time(ev.local, "%b "), pad, as_text(dom), local_time(ev.local, " %H:%M:%S"))
    time = spoil_times(time, damage, "Foo 99 27:61:99")
    pop3 = rng.random(n) < 0.04
    mpid = as_text(rng.integers(1_000, 99_999, n))
    lines = join(
        time,
        " mail dovecot: ",
        pick(["imap-login", "pop3-login"], pop3.astype(np.int64)),
        ": Login: user=<",
        pick(ctx.population.uid, ev.person),
        ">, method=PLAIN, rip=",
        ev.ip_text(),
        ", lip=10.10.0.25, mpid=",
        mpid,
        ", TLS, session=<",
        random_tokens(rng, n, 16),
        ">",
    )
    parts = [Part(ctx.out / "logs" / "mail" / "dovecot.log", 0, n)]
    source = Source(
        name="mail",
        format="dovecot",
        paths=["logs/mail/dovecot.log*"],
        comment="Dovecot IMAP/POP3 logins from syslog (no year: taken from the file date)",
        service="mail",
    )
    _record(ctx, source, write_lines(lines, parts, damage, mtime=ctx.end_mtime), parts)
    return source


# ---------------------------------------------------------------------------------------------
# Roundcube userlogins (file driver)


def roundcube_userlogins(ctx: Context) -> Source:
    rng = ctx.rng("roundcube")
    ev = ctx.of_service("webmail")
    ev.local = ev.local + rng.integers(1, 4, len(ev))
    ev = ev.sorted()
    n = len(ev)
    damage = pick_damage(rng, n)
    time = join(local_time(ev.local, "%d-%b-%Y %H:%M:%S"), " ", _offset_text(ev.offset))
    time = spoil_times(time, damage, "45-Foo-2026 27:61:99 +0100")
    user_id = rng.permutation(len(ctx.population)).astype(np.int64) + 1
    session = random_tokens(rng, n, 16, hexa=True)
    prefix = pc.utf8_slice_codeunits(session, 0, 8)
    failed = rng.random(n) < 0.01
    uid = pick(ctx.population.uid, ev.person)
    ip = ev.ip_text()
    message = pc.if_else(
        pa.array(failed),
        join("Failed login for ", uid, " from ", ip, " in session ", session, " (error: 0)"),
        join(
            "Successful login for ",
            uid,
            " (ID: ",
            as_text(user_id[ev.person]),
            ") from ",
            ip,
            " in session ",
            session,
        ),
    )
    lines = join("[", time, "]: <", prefix, "> ", message)
    parts = [Part(ctx.out / "logs" / "roundcube" / "userlogins.log", 0, n)]
    source = Source(
        name="roundcube",
        format="roundcube_userlogins",
        paths=["logs/roundcube/userlogins.log*"],
        comment="Roundcube userlogins log (file driver, log_logins = true)",
        service="webmail",
    )
    _record(ctx, source, write_lines(lines, parts, damage, mtime=ctx.end_mtime), parts)
    return source


# ---------------------------------------------------------------------------------------------
# Moodle logstore_standard_log CSV export + mdl_user export

# eventname, component, action, target, objecttable, crud, edulevel, contextlevel
_MOODLE_EVENTS: tuple[tuple[str, str, str, str, str, str, str, str], ...] = (
    ("\\core\\event\\user_loggedin", "core", "loggedin", "user", "user", "r", "0", "10"),
    ("\\core\\event\\dashboard_viewed", "core", "viewed", "dashboard", "", "r", "0", "30"),
    ("\\core\\event\\course_viewed", "core", "viewed", "course", "", "r", "2", "50"),
    (
        "\\mod_resource\\event\\course_module_viewed",
        "mod_resource",
        "viewed",
        "course_module",
        "resource",
        "r",
        "2",
        "70",
    ),
    (
        "\\mod_forum\\event\\discussion_viewed",
        "mod_forum",
        "viewed",
        "discussion",
        "forum_discussions",
        "r",
        "2",
        "70",
    ),
    (
        "\\mod_assign\\event\\submission_status_viewed",
        "mod_assign",
        "viewed",
        "submission_status",
        "assign",
        "r",
        "0",
        "70",
    ),
    (
        "\\mod_quiz\\event\\attempt_started",
        "mod_quiz",
        "started",
        "attempt",
        "quiz_attempts",
        "c",
        "2",
        "70",
    ),
    (
        "\\mod_url\\event\\course_module_viewed",
        "mod_url",
        "viewed",
        "course_module",
        "url",
        "r",
        "2",
        "70",
    ),
    (
        "\\mod_page\\event\\course_module_viewed",
        "mod_page",
        "viewed",
        "course_module",
        "page",
        "r",
        "2",
        "70",
    ),
)
_MOODLE_WEIGHTS = np.array([0.0, 1.0, 6.0, 4.0, 1.5, 1.5, 0.6, 0.8, 1.0])


def moodle_logstore(ctx: Context) -> Source:
    rng = ctx.rng("moodle")
    cas = ctx.of_service("moodle")
    session, rank, elapsed = _sessions(rng, cas.local, mean_hits=2.6, gap=90.0)
    ev = cas.take(session)
    ev.local = ev.local + 2 + elapsed
    order = np.argsort(ev.local, kind="stable")
    ev, rank = ev.take(order), rank[order]
    n = len(ev)
    p = _MOODLE_WEIGHTS / _MOODLE_WEIGHTS.sum()
    kind = np.where(rank == 0, 0, rng.choice(len(_MOODLE_EVENTS), size=n, p=p))
    # Moodle user ids: 1 guest, 2 admin, then everyone in the order of their first login.
    people = len(ctx.population)
    first_seen = np.full(people, np.iinfo(np.int64).max)
    np.minimum.at(first_seen, ev.person, np.arange(n))
    seen = np.flatnonzero(first_seen < np.iinfo(np.int64).max)
    seen = seen[np.argsort(first_seen[seen])]
    moodle_id = np.zeros(people, dtype=np.int64)
    moodle_id[seen] = np.arange(3, 3 + len(seen))
    userid = moodle_id[ev.person]
    base_course = rng.integers(2, 420, people)
    course = base_course[ev.person] + rng.integers(0, 6, n)
    module = course * 40 + rng.integers(0, 40, n)
    level = np.array([int(e[7]) for e in _MOODLE_EVENTS])[kind]
    contextid = np.select(
        [level == 10, level == 30, level == 50],
        [np.ones(n, np.int64), 50_000 + userid, course * 7 + 3],
        default=200_000 + module,
    )
    instance = np.select(
        [level == 10, level == 30, level == 50],
        [np.zeros(n, np.int64), userid, course],
        default=module,
    )
    courseid = np.where(level <= 30, 0, course)
    objectid = np.where(kind == 0, userid, module * 3 + 1)
    has_object = np.array([e[4] != "" for e in _MOODLE_EVENTS])[kind]
    uid = pick(ctx.population.uid, ev.person)
    other = pc.if_else(
        pa.array(kind == 0),
        join('"{""username"":""', uid, '"",""extrauserinfo"":[]}"'),
        pc.if_else(pa.array(kind == 6), join('"{""quizid"":""', as_text(module), '""}"'), "null"),
    )

    def col(i: int) -> pa.Array:
        return pick([e[i] for e in _MOODLE_EVENTS], kind)

    ids = as_text(rng.integers(1_000_000, 2_000_000) + np.arange(n, dtype=np.int64))
    lines = join(
        ids,
        ",",
        col(0),
        ",",
        col(1),
        ",",
        col(2),
        ",",
        col(3),
        ",",
        col(4),
        ",",
        pc.if_else(pa.array(has_object), as_text(objectid), ""),
        ",",
        col(5),
        ",",
        col(6),
        ",",
        as_text(contextid),
        ",",
        col(7),
        ",",
        as_text(instance),
        ",",
        as_text(userid),
        ",",
        as_text(courseid),
        ",",
        pc.if_else(pa.array(kind == 6), as_text(userid), ""),
        ",0,",
        other,
        ",",
        as_text(ev.utc),
        ",",
        pick(["web", "ws"], (ev.device == PHONE).astype(np.int64)),
        ",",
        ev.ip_text(),
        ",",
    )
    header = (
        "id,eventname,component,action,target,objecttable,objectid,crud,edulevel,contextid,"
        "contextlevel,contextinstanceid,userid,courseid,relateduserid,anonymous,other,"
        "timecreated,origin,ip,realuserid"
    )
    lines = pa.concat_arrays([pa.array([header], pa.string()), lines])
    folder = ctx.out / "logs" / "moodle"
    no_damage = Damage(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    parts = [Part(folder / "logstore_standard_log.csv", 0, n + 1)]
    written = write_lines(lines, parts, no_damage, mtime=ctx.end_mtime)
    users = [
        "id,auth,username,firstname,lastname,email",
        "1,manual,guest,Guest user,,root@localhost",
        f"2,manual,admin,Admin,Moodle,admin@{cat.DOMAIN}",
    ]
    for person in seen:  # one line per Moodle user, not per log line
        users.append(
            f"{moodle_id[person]},cas,{ctx.population.uid[person]},"
            f"{ctx.population.given[person]},{ctx.population.surname[person]},"
            f"{ctx.population.uid[person]}@{cat.DOMAIN}"
        )
    (folder / "mdl_user.csv").write_text("\n".join(users) + "\n", encoding="utf-8")
    source = Source(
        name="moodle-lms",
        format="moodle_logstore",
        paths=["logs/moodle/logstore_standard_log.csv"],
        comment="Moodle logstore_standard_log exported as CSV, with the mdl_user export",
        service="moodle_lms",
        extra={"users_csv": "logs/moodle/mdl_user.csv"},
    )
    _record(ctx, source, written, parts)
    return source


#: Shipped format name -> the function that writes a source in that format.
GENERATORS: dict[str, Callable[[Context], Source]] = {
    "cas_servicestats": cas_servicestats,
    "apache_combined": apache_combined,
    "shibboleth_idp_audit": shibboleth_idp_audit,
    "nextcloud_audit": nextcloud_audit,
    "dovecot": dovecot,
    "roundcube_userlogins": roundcube_userlogins,
    "moodle_logstore": moodle_logstore,
}
