"""Ingestion benchmark: vigie's vectorized pipeline against a pure-Python `re` loop, same run.

Usage:
    python bench/ingest.py                       # 10 M lines per format (about a minute)
    python bench/ingest.py --lines 2000000       # smaller: start-up costs weigh more
    python bench/ingest.py --lines 10000000 --files 10 --formats cas_servicestats  # 100 M lines

For each format it generates N log lines (vectorized: 60,000 users with about 1.7 addresses
each, half on campus, 2,000 distinct user agents with two or so per person, times in order over
a month as in a real log, a few malformed lines), then measures end to end — read, parse,
enrich (zone, device, calendar, directory as-of join), pseudonymize, write Parquet — in a fresh
process so that peak memory (max RSS) is the pipeline's own. The baseline, on a sample of the
same file, does the same work the usual way: one `re.match` and one `strptime` per line, dict
caches for pseudonyms, zones and devices, and one Parquet write at the end. It prints lines/s
for both and the ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import ipaddress
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SECRET = b"bench-secret-0123456789abcdef"
ZONES = {"wired": ["10.10.0.0/16"], "wifi": ["10.20.0.0/16"], "vpn": ["10.40.0.0/16"]}
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1",
]
USERS = 60_000
UA_VERSIONS = 2_000
HOSTS = ["ent", "moodle", "webmail", "helpdesk", "nextcloud", "pod", "ade"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

# The baseline's regexes: what a hand-written parser of each format would use.
BASELINE = {
    "apache_combined": (
        re.compile(r'^(\S+) \S+ (\S+) \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) (\S+) "([^"]*)" '
                   r'"([^"]*)"'),
        "%d/%b/%Y:%H:%M:%S %z", {"ip": 1, "user": 2, "time": 3, "ua": 9},
    ),
    "cas_servicestats": (
        re.compile(r"^\[([^\]]+)\] \[IP:([^\]]*)\] \[ID:([^\]]*)\] \[TICKET:[^\]]*\] "
                   r"\[SERVICE:(.*?)\] \[USER-AGENT:(.*)\]$"),
        "%a %b %d %H:%M:%S %z %Y", {"time": 1, "ip": 2, "user": 3, "ua": 5},
    ),
}


def _pick(values: list[str], index: np.ndarray) -> pa.Array:
    return pc.take(pa.array(values), pa.array(index))


def _text(numbers: np.ndarray, width: int = 0) -> pa.Array:
    out = pc.cast(pa.array(numbers), pa.string())
    return pc.utf8_lpad(out, width, "0") if width else out


def generate(fmt: str, lines: int, seed: int, span: tuple[float, float] = (0.0, 1.0)
             ) -> pa.Array:
    """N lines of a format, built column-wise (no Python loop per line).

    The lines are in time order within `span`, the fraction of the month they cover: real log
    files are written as events happen, so a block of lines covers a short stretch of time.
    """
    rng = np.random.default_rng(seed)
    start, end = (int(f * 30 * 86400) for f in span)
    seconds = rng.integers(start, max(end, start + 1), lines)
    seconds.sort()
    stamp = np.datetime64("2026-03-01T00:00:00") + seconds.astype("timedelta64[s]")
    day = (stamp.astype("datetime64[D]") - np.datetime64("2026-03-01")).astype(int) + 1
    hms = (stamp - stamp.astype("datetime64[D]")).astype(int)
    hh, mm, ss = _text(hms // 3600, 2), _text(hms // 60 % 60, 2), _text(hms % 60, 2)
    dd = _text(day, 2)
    weekday = (day + 5) % 7  # 1 March 2026 is a Sunday
    person = rng.integers(0, USERS, lines)
    user = pc.binary_join_element_wise("u", _text(person), "")
    # About 1.7 addresses per person (home, campus wired or wifi, phone), half on campus.
    address = (person * 17 + rng.integers(0, 17, lines)) // 10
    inside = address % 2 == 0
    net = np.where(inside, 10, 80 + address % 100)
    sub = np.where(inside, np.array([10, 20, 40])[address % 3], address // 100 % 256)
    ip = pc.binary_join_element_wise(_text(net), _text(sub), _text(address // 256 % 256),
                                     _text(address % 256), ".")
    # Real logs hold thousands of distinct user agents (vary the browsers' versions), and a
    # person keeps the same two or so devices: a computer mostly, a phone at times.
    version = (person * 2 + (rng.random(lines) < 0.3)) % UA_VERSIONS
    agent = pc.binary_join_element_wise(
        _pick(AGENTS, version % len(AGENTS)), " v/", _text(version // len(AGENTS)), "")
    if fmt == "apache_combined":
        time_text = pc.binary_join_element_wise(dd, "/Mar/2026:", hh, ":", mm, ":", ss, "")
        status = _pick(["200", "200", "200", "302", "304", "404"], rng.integers(0, 6, lines))
        path = pc.binary_join_element_wise("/front/ticket.form.php?id=",
                                           _text(rng.integers(1, 99_999, lines)), "")
        out = pc.binary_join_element_wise(
            ip, " - ", user, " [", time_text, ' +0100] "GET ', path, ' HTTP/1.1" ', status, " ",
            _text(rng.integers(200, 90_000, lines)), ' "https://helpdesk.univ.fr/" "', agent, '"',
            "")
    else:
        host = _pick(HOSTS, rng.integers(0, len(HOSTS), lines))
        out = pc.binary_join_element_wise(
            "[", _pick(DAYS, weekday), " Mar ", dd, " ", hh, ":", mm, ":", ss, " CET 2026] [IP:",
            ip, "] [ID:", user, "] [TICKET:ST-", _text(np.arange(lines)), "-cas1] [SERVICE:https://",
            host, ".univ.fr/Login] [USER-AGENT:", agent, "]", "")
    broken = rng.choice(lines, size=max(1, lines // 20_000), replace=False)
    mask = np.zeros(lines, bool)
    mask[broken] = True
    return pc.if_else(pa.array(mask), pc.utf8_slice_codeunits(out, 0, 25), out)


BLOCK = 1_000_000


def write_file(path: Path, fmt: str, lines: int, seed: int, first: str | None = None,
               span: tuple[float, float] = (0.0, 1.0)) -> None:
    """Writes `lines` lines, generated and written by blocks (memory stays small).

    Each file gets a distinct first line, as real files do (files are known by their start),
    and covers `span` of the month, its blocks one after the other.
    """
    width = span[1] - span[0]
    with path.open("wb") as handle:
        if first is not None:
            handle.write(first.encode() + b"\n")
        for block, start in enumerate(range(0, lines, BLOCK)):
            text = pc.binary_join_element_wise(
                generate(fmt, min(BLOCK, lines - start), seed=seed * 1000 + block,
                         span=(span[0] + width * start / lines,
                               span[0] + width * min(lines, start + BLOCK) / lines)),
                "\n", ""
            ).cast(pa.large_string())
            offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)
            data = text.buffers()[2]
            handle.write(memoryview(data)[offsets[0]: offsets[len(text)]])


def write_directory(path: Path) -> None:
    """A SUPANN directory of the bench's users (nine in ten known), as an LDIF export.

    Students have a structure, an étape and a cursus year; staff and teachers a structure. One
    user in ten is absent, as accounts missing from a real directory are.
    """
    entries = []
    for person in range(USERS):
        if person % 10 == 9:
            continue
        kind = ("student", "student", "student", "student", "student", "student", "student",
                "teacher", "staff")[person % 9]
        entry = [f"dn: uid=u{person},ou=people,dc=univ,dc=fr", "objectClass: supannPerson",
                 f"uid: u{person}", f"eduPersonPrimaryAffiliation: {kind}",
                 f"eduPersonAffiliation: {kind}", "eduPersonAffiliation: member",
                 f"supannEntiteAffectationPrincipale: UFR{person % 20:02d}"]
        if kind == "student":
            year = ("L1", "L2", "L3", "M1", "M2")[person % 5]
            entry.append(f"supannEtuInscription: [etab={{UAI}}0000000A][anneeinsc=2025]"
                         f"[affect=UFR{person % 20:02d}][cursusann={{SUPANN}}{year}]"
                         f"[etape={{UAI:0000000A}}ETP{person % 50:02d}]")
        entries.append("\n".join(entry))
    path.write_text("\n\n".join(entries) + "\n", encoding="utf-8")


def config(folder: Path, fmt: str) -> Path:
    if not (folder / "directory.ldif").exists():
        write_directory(folder / "directory.ldif")
    body = f"""[vigie]
lake = "lake"

[directory]
ldif = "directory.ldif"

[network]
{chr(10).join(f'{zone} = {json.dumps(cidrs)}' for zone, cidrs in ZONES.items())}

[[sources]]
name = "bench"
format = "{fmt}"
paths = ["logs/*.log"]
service = "bench"
"""
    path = folder / "vigie.toml"
    path.write_text(body, encoding="utf-8")
    return path


def run_vigie(config_path: str) -> None:
    """Worker: one ingestion, timed, then the compaction that follows it in `vigie ingest`.

    Prints JSON: the ingestion's lines, seconds, peak memory and CPU time (before the
    compaction, whose own seconds are reported apart: it builds the dashboards' summaries and
    its cost depends on the lake, not on the lines just read).
    """
    from vigie.config import load_config
    from vigie.ingest.pipeline import compact_lake, ingest

    config = load_config(Path(config_path))
    start = time.perf_counter()
    report = ingest(config, secret=SECRET, compact_after=False)
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss, cpu = usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    compact_lake(config)
    compaction = time.perf_counter() - start
    lines = report.rows + report.quarantined
    print(json.dumps({"lines": lines, "rows": report.rows, "seconds": elapsed, "rss": rss,
                      "cpu": cpu, "compaction": compaction}))


def run_baseline(fmt: str, path: Path, limit: int, out: Path) -> dict[str, float]:
    """The usual hand-written way, one line at a time."""
    from vigie.referential.devices import classify_user_agent

    pattern, time_format, groups = BASELINE[fmt]
    networks = [(ipaddress.ip_network(c), z) for z, cs in ZONES.items() for c in cs]
    pseudo: dict[str, str] = {}
    zones: dict[str, str] = {}
    devices: dict[str, str] = {}
    rows: dict[str, list[object]] = {k: [] for k in ("ts", "user", "zone", "device", "hour")}
    start = time.perf_counter()
    count = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            count += 1
            if count > limit:
                count -= 1
                break
            match = pattern.match(line)
            if match is None:
                continue
            raw_time = match.group(groups["time"]).replace(" CET ", " +0100 ")
            try:
                ts = datetime.strptime(raw_time, time_format)
            except ValueError:
                continue
            user = match.group(groups["user"])
            if user not in pseudo:
                pseudo[user] = hmac.new(SECRET, user.lower().encode(), hashlib.sha256).hexdigest()
            ip = match.group(groups["ip"])
            if ip not in zones:
                address = ipaddress.ip_address(ip)
                zones[ip] = next((z for n, z in networks if address in n), "outside")
            agent = match.group(groups["ua"])
            if agent not in devices:
                devices[agent] = classify_user_agent(agent)[0]
            rows["ts"].append(ts)
            rows["user"].append(pseudo[user])
            rows["zone"].append(zones[ip])
            rows["device"].append(devices[agent])
            rows["hour"].append(ts.hour)
    pq.write_table(pa.table(rows), out)
    elapsed = time.perf_counter() - start
    return {"lines": count, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000, help="lines per file")
    parser.add_argument("--files", type=int, default=1, help="files per format")
    parser.add_argument("--baseline-lines", type=int, default=300_000)
    parser.add_argument("--formats", nargs="+", default=list(BASELINE))
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the log files already in --dir (same --lines and --files)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_vigie(args.worker)
        return
    work = args.dir or Path(tempfile.mkdtemp(prefix="vigie-bench-"))
    print(f"work folder: {work}; {args.files} file(s) × {args.lines:,} lines per format")
    for fmt in args.formats:
        folder = work / fmt
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        for i in range(args.files):
            if args.reuse and (folder / f"logs/part{i:03d}.log").exists():
                continue
            write_file(folder / f"logs/part{i:03d}.log", fmt, args.lines, seed=1 + i,
                       first=f"# bench file {i}" if args.files > 1 else None,
                       span=(i / args.files, (i + 1) / args.files))
        size = sum(p.stat().st_size for p in (folder / "logs").iterdir())
        print(f"\n{fmt}: {size / 1e9:.2f} GB of logs ready in {time.perf_counter() - t0:.1f} s")
        cfg = config(folder, fmt)
        shutil.rmtree(folder / "lake", ignore_errors=True)  # a reused --dir starts afresh
        done = subprocess.run(
            [sys.executable, __file__, "--worker", str(cfg)],
            check=True, capture_output=True, text=True,
        )
        vigie = json.loads(done.stdout.strip().splitlines()[-1])
        base = run_baseline(fmt, folder / "logs/part000.log", args.baseline_lines,
                            folder / "baseline.parquet")
        v_rate = vigie["lines"] / vigie["seconds"]
        b_rate = base["lines"] / base["seconds"]
        print(f"  vigie    : {vigie['lines']:>12,} lines in {vigie['seconds']:7.2f} s = "
              f"{v_rate:>12,.0f} lines/s, peak RSS {vigie['rss'] / 2**20:,.0f} MiB, "
              f"{vigie['cpu'] / vigie['lines'] * 1e6:.2f} µs of CPU per line")
        print(f"  baseline : {base['lines']:>12,} lines in {base['seconds']:7.2f} s = "
              f"{b_rate:>12,.0f} lines/s (pure-Python re loop)")
        print(f"  ratio    : {v_rate / b_rate:.1f}×")
        print(f"  then the compaction of the lake (dashboards' summaries): "
              f"{vigie['compaction']:.2f} s")


if __name__ == "__main__":
    main()
