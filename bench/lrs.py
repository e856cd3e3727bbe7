"""LRS benchmark: `vigie lrs serve` on loopback at several store sizes, and Ralph side by side.

Usage:
    python bench/lrs.py                                  # a store of 10,000 statements
    python bench/lrs.py --sizes 10k,1m,10m --dir /srv/bench-lrs --workers 2
    python bench/lrs.py --sizes 10k,1m --ralph /tmp/ralph-venv
    PGPASSWORD=… python bench/lrs.py --database postgresql://vigie@127.0.0.1/lrs_bench

For each size, the store is first loaded to that many statements, then measured over HTTP.

Loading (not timed as a measure, reported): the statements go straight to the store's batch
insert (`StatementStore.insert`, the code POST uses after validation, batches of 20,000, every
statement validated first, by `--workers` processes), not through HTTP. A loaded store is kept
under `--dir` (tenant `s<size>` of `--dir/vigie`, or of `--database`) and reused by later
runs, which say how it was loaded. Measured POSTs stay in it (about 106,000 statements a run):
the output says how many statements it holds. Delete `--dir/vigie/s<size>.loaded.json` and the
tenant's files to start afresh.

Measured, over keep-alive HTTP connections to a real `vigie lrs serve --workers N` on a free
127.0.0.1 port, after `--warm-up` batches of 100 statements (20) that are not measured (the
worker processes open the tenant's store and meet its agents, activities and verbs at their
first writes, once after the server starts): POST of `--batches` batches of 100 statements
(500: a phase then lasts seconds and takes its share of the store's periodic work, moves of
pending index rows and checkpoints, which 20,000 statements did not average out)
by `--clients` client processes, then as many batches of statements without `id` (as
Moodle's logstore_xapi sends them: the LRS gives the ids, time-ordered, so they do not land at
random in its id index);
`--singles` single-statement POSTs by the same clients, then by one client (the latency a lone
Learning Record Provider sees); then, with one client, `--gets` GETs (limit 100) of each
query: `verb`, `agent`, `activity` + `related_activities`, and `since` the middle of the store.
Every phase stops at `--phase-seconds` and reports on what it did, with the CPU time the
server's processes spent per statement (from `/proc`: it depends less on what else runs on
the machine than the rates do).

Another vigie (a former commit, for a before/after) is measured by running this script with
`PYTHONPATH` on its `src` (`git archive COMMIT src | tar -x -C DIR`) and `--workers 1`.

With `--ralph VENV` (a virtualenv where `pip install 'ralph-malph[lrs,cli]' requests` ran),
Ralph is measured in the same run on the same workload: the same request bodies, batch sizes,
clients and queries, served by uvicorn with its filesystem backend (`RALPH_RUNSERVER_BACKEND=fs`;
`ralph runserver` starts the same application, with auto-reload and debug logs), patched to
append to its file (see `RALPH_APPENDING`: as released, it refuses every write after the
first), with `--ralph-clients` (1) client processes for its POSTs. Its store is loaded the
same way, written as its backend writes it (one JSON statement per line of `fs_lrs.jsonl`),
and kept under `--dir/ralph-<size>`. The ratios vigie / Ralph are printed.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from vigie.lrs.backend import open_backend
from vigie.lrs.loadgen import wait_until_up
from vigie.lrs.validation import validate_statements

VERBS = ["http://adlnet.gov/expapi/verbs/experienced", "http://adlnet.gov/expapi/verbs/completed",
         "http://adlnet.gov/expapi/verbs/answered", "https://w3id.org/xapi/video/verbs/played"]
HEADERS = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}
START = datetime(2026, 9, 1, tzinfo=UTC)
LOAD_BATCH = 20_000
PRELOAD_AUTHORITY = {"objectType": "Agent", "name": "bench preload",
                     "account": {"homePage": "urn:vigie:lrs:bench", "name": "preload"}}


def statement(i: int, statement_id: str | None = None) -> dict[str, Any]:
    """A Moodle-like statement: 5,000 learners, 2,000 pages in 100 courses, 4 verbs."""
    return {
        "id": statement_id or str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {
            "homePage": "https://moodle.univ-demo.fr", "name": f"u{i % 5000}"}},
        "verb": {"id": VERBS[i % len(VERBS)], "display": {"en-US": "did"}},
        "object": {"objectType": "Activity",
                   "id": f"https://moodle.univ-demo.fr/mod/page/view.php?id={i % 2000}",
                   "definition": {"type": "http://adlnet.gov/expapi/activities/lesson",
                                  "name": {"fr-FR": f"Leçon {i % 2000}"}}},
        "context": {"contextActivities": {"parent": [{
            "id": f"https://moodle.univ-demo.fr/course/view.php?id={i % 100}"}]},
            "platform": "Moodle"},
        "timestamp": (START + timedelta(seconds=i)).isoformat(),
    }


def without_id(sent: dict[str, Any]) -> dict[str, Any]:
    """A statement as Moodle's logstore_xapi sends it: without `id` (the LRS gives one)."""
    return {key: value for key, value in sent.items() if key != "id"}


def preloaded(i: int) -> dict[str, Any]:
    """Statement `i` of a loaded store (the same on every run: its id derives from `i`)."""
    return statement(i, str(uuid.uuid5(uuid.NAMESPACE_URL, f"vigie-bench:{i}")))


QUERIES: dict[str, dict[str, str]] = {
    "verb": {"verb": VERBS[1]},
    "agent": {"agent": json.dumps({"objectType": "Agent", "account": {
        "homePage": "https://moodle.univ-demo.fr", "name": "u42"}})},
    "activity+related": {"activity": "https://moodle.univ-demo.fr/course/view.php?id=7",
                         "related_activities": "true"},
}


def size_of(text: str) -> int:
    units = {"k": 1_000, "m": 1_000_000}
    text = text.strip().lower()
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def label(size: int) -> str:
    for unit, value in (("m", 1_000_000), ("k", 1_000)):
        if size >= value and size % value == 0:
            return f"{size // value}{unit}"
    return str(size)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def per_second(rate: float) -> str:
    """A rate with the digits that matter (Ralph's are below one a second at 1 M)."""
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


# -- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """A loaded store: how many statements it holds, the `stored` time of its middle one,
    how it was loaded, and the file that remembers it (`statements` counts the statements
    that earlier runs POSTed too: they stay in the store)."""

    statements: int
    middle_stored: str
    how: str
    marker: Path

    @classmethod
    def remembered(cls, marker: Path, verb: str) -> Loaded:
        known = json.loads(marker.read_text())
        return cls(known["statements"], known["middle_stored"],
                   f"reused ({verb} {known['loaded'][:16]} in {known['seconds']:.0f} s: "
                   f"{known['how']})", marker)

    @classmethod
    def record(cls, marker: Path, size: int, middle: str, how: str, seconds: float) -> Loaded:
        marker.write_text(json.dumps({
            "statements": size, "middle_stored": middle, "how": how, "seconds": seconds,
            "loaded": datetime.now(UTC).isoformat()}))
        return cls(size, middle, f"loaded now in {seconds:.0f} s: {how}", marker)

    def grown(self, statements: int) -> None:
        """Remembers `statements` more, acknowledged during a run."""
        known = json.loads(self.marker.read_text())
        known["statements"] += statements
        self.marker.write_text(json.dumps(known))


def preload_share(root: Path, database: str | None, tenant: str, size: int, share: int,
                  shares: int) -> None:
    """One loading process: validates its batches (every `shares`-th of them) and stores them
    through the store's batch insert; the processes' writes take turns as servers' do."""
    stores = open_backend(root, database=database, password=os.environ.get("PGPASSWORD"))
    try:
        for first in range(share * LOAD_BATCH, size, shares * LOAD_BATCH):
            batch = validate_statements(
                [preloaded(i) for i in range(first, min(first + LOAD_BATCH, size))])
            for item in batch:
                item["authority"] = PRELOAD_AUTHORITY
            stores.statements.insert(batch, tenant=tenant)
            if share == 0 and first // (shares * LOAD_BATCH) % 20 == 19:
                print(f"  loaded about {first + LOAD_BATCH:,} of {size:,}", flush=True)
    finally:
        stores.close()


def load_vigie(root: Path, database: str | None, tenant: str, size: int,
               processes: int) -> Loaded:
    """Fills `tenant` to `size` statements through the store's batch insert, or reuses it."""
    marker = root / f"{tenant}.loaded.json"
    if marker.exists():
        return Loaded.remembered(marker, "loaded")
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.starmap(preload_share, [(root, database, tenant, size, share, processes)
                                     for share in range(processes)])
    seconds = time.perf_counter() - began
    stores = open_backend(root, database=database, password=os.environ.get("PGPASSWORD"))
    try:
        middle = stores.statements.get(preloaded(size // 2)["id"], tenant=tenant)["stored"]
    finally:
        stores.close()
    how = (f"validated, then StatementStore.insert in batches of {LOAD_BATCH:,} by "
           f"{processes} processes, {size / seconds:,.0f} statements/s")
    return Loaded.record(marker, size, middle, how, seconds)


def load_ralph(folder: Path, size: int) -> Loaded:
    """Writes `fs_lrs.jsonl` as Ralph's filesystem backend does (one `json.dumps` line per
    statement, with `stored`, `timestamp` and `authority`), or reuses it."""
    marker = folder / "loaded.json"
    if marker.exists():
        return Loaded.remembered(marker, "written")
    (folder / "data").mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    first_stored = datetime.now(UTC) - timedelta(days=30)
    middle = ""
    with (folder / "data" / "fs_lrs.jsonl").open("w", encoding="utf-8") as out:
        for i in range(size):
            item = preloaded(i)
            stored = (first_stored + timedelta(microseconds=i * 100)).isoformat()
            item.update(stored=stored, authority={
                "account": {"homePage": "https://bench.example", "name": "bench"},
                "objectType": "Agent"})
            out.write(json.dumps(item) + "\n")
            if i == size // 2 - 1:
                middle = stored
    seconds = time.perf_counter() - began
    return Loaded.record(marker, size, middle, "one JSON line per statement", seconds)


# -- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    """A running LRS: its base URL, Basic credentials and process (with its children)."""

    name: str
    base: str
    auth: tuple[str, str]
    pid: int = 0

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (Linux `/proc`; 0 elsewhere)."""
        stats: dict[int, tuple[int, float]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            stats[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])))
        tree, total = {self.pid}, 0.0
        for _ in range(3):  # the server, its workers, their children
            tree |= {pid for pid, (parent, _) in stats.items() if parent in tree}
        total = sum(ticks for pid, (_, ticks) in stats.items() if pid in tree)
        return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def running(command: list[str], base: str, log: Path, env: dict[str, str] | None = None,
            ) -> Iterator[int]:
    """Runs `command` until the block ends; gives its process id once `base` answers."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out,
                                   env={**os.environ, **(env or {})})
    try:
        if not wait_until_up(base, process, 60):
            raise SystemExit(
                f"the server did not start; its log ({log}):\n{log.read_text()[-2000:]}")
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def vigie(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "vigie.cli", "lrs", *args], check=True,
                          capture_output=True, text=True).stdout


@contextmanager
def vigie_server(storage: list[str], tenant: str, workers: int, log: Path) -> Iterator[Server]:
    out = vigie("credentials", "add", tenant, *storage, "--scope", "all", "--label", "bench")
    key = out.split("key:")[1].split()[0]
    secret = out.split("secret:")[1].split()[0]
    port = free_port()
    base = f"http://127.0.0.1:{port}/xAPI"
    command = [sys.executable, "-m", "vigie.cli", "lrs", "serve", *storage, "--port", str(port),
               *(["--workers", str(workers)] if workers > 1 else [])]
    try:
        with running(command, base, log) as pid:
            yield Server(f"vigie ({workers} worker{'s' if workers > 1 else ''})", base,
                         (key, secret), pid)
    finally:
        vigie("credentials", "revoke", key, *storage)


#: Ralph's application under uvicorn, its filesystem backend appending to `fs_lrs.jsonl`:
#: as released (5.1.0), `FSDataBackend` writes in its default "create" mode, which refuses an
#: existing file, so every POST after the first fails with 500 "Statements bulk indexation
#: failed" (`… fs_lrs.jsonl already exists and overwrite is not allowed with operation_type
#: create or index`). Nothing else of Ralph is changed. Appending is not safe for concurrent
#: requests: with 4 clients at 1 M statements a line of its file came out cut, after which
#: every request failed (500 "xAPI statements query failed"); hence `--ralph-clients 1`.
RALPH_APPENDING = """
import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.data.fs import FSDataBackend
FSDataBackend.default_operation_type = BaseOperationType.APPEND
uvicorn.run("ralph.api:app", host="127.0.0.1", port={port}, log_level="warning",
            access_log=False)
"""


@contextmanager
def ralph_server(venv: Path, folder: Path) -> Iterator[Server]:
    env = {"RALPH_APP_DIR": str(folder), "RALPH_AUTH_FILE": str(folder / "auth.json"),
           "RALPH_RUNSERVER_BACKEND": "fs",
           "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(folder / "data")}
    if not (folder / "auth.json").exists():
        subprocess.run([str(venv / "bin" / "ralph"), "auth", "-u", "bench", "-p", "bench-secret",
                        "-s", "all", "-A", "bench", "https://bench.example", "-w"],
                       check=True, capture_output=True, env={**os.environ, **env})
    port = free_port()
    base = f"http://127.0.0.1:{port}/xAPI"
    command = [str(venv / "bin" / "python"), "-c", RALPH_APPENDING.format(port=port)]
    with running(command, base, folder / "server.log", env) as pid:
        yield Server("Ralph (fs)", base, ("bench", "bench-secret"), pid)


# -- measuring -------------------------------------------------------------------------------


def post_all(url: str, auth: tuple[str, str], bodies: list[bytes], start_at: float,
             deadline: float) -> tuple[int, float, list[str]]:
    """One client process: POSTs `bodies` in turn from `start_at` (a shared instant) until
    done or `deadline`; returns how many it sent, when it finished, and the errors."""
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    headers = {**HEADERS, "Authorization": f"Basic {token}"}
    errors: list[str] = []
    sent = 0
    with httpx.Client(headers=headers, timeout=600) as client:
        time.sleep(max(0.0, start_at - time.time()))
        for body in bodies:
            if time.time() > deadline:
                break
            response = client.post(url, content=body)
            if response.status_code != 200:
                errors.append(f"{response.status_code} {response.text[:200]}")
            sent += 1
    return sent, time.time(), errors


def post_rate(server: Server, bodies: list[bytes], per_body: int, clients: int,
              seconds: float) -> tuple[float, str, int]:
    """Statements/s of `bodies` POSTed by `clients` processes (each its share, in order), a
    note (the server's CPU time per statement, what was not sent, errors) and how many
    statements were acknowledged."""
    cpu = server.cpu_seconds()
    shares = [bodies[n::clients] for n in range(clients)]
    start_at = time.time() + 0.5
    context = multiprocessing.get_context("fork")
    with context.Pool(clients) as pool:
        results = pool.starmap(post_all, [
            (f"{server.base}/statements", server.auth, share, start_at, start_at + seconds)
            for share in shares])
    sent = sum(count for count, _, _ in results)
    errors = [error for _, _, found in results for error in found]
    elapsed = max(end for _, end, _ in results) - start_at
    cpu = server.cpu_seconds() - cpu
    note = f" (server CPU {cpu / max(1, sent * per_body) * 1e6:,.0f} µs/statement)"
    if sent < len(bodies):
        note += f" (stopped after {sent:,} of {len(bodies):,} requests)"
    if errors:
        note += f" ({len(errors)} errors, first: {errors[0]})"
    acknowledged = (sent - len(errors)) * per_body
    return acknowledged / elapsed, note, acknowledged


def get_latencies(server: Server, params: dict[str, str], count: int, seconds: float,
                  ) -> tuple[list[float], list[str]]:
    """Milliseconds of `count` sequential GETs (limit 100), fewer if `seconds` run out, and
    the answers that were not 200."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(auth=server.auth, headers=HEADERS, timeout=600) as client:
        for _ in range(count):
            began = time.perf_counter()
            response = client.get(f"{server.base}/statements",
                                  params={**params, "limit": "100"})
            if response.status_code == 200:
                latencies.append((time.perf_counter() - began) * 1000)
            else:
                errors.append(f"{response.status_code} {response.text[:200]}")
            if time.monotonic() > deadline:
                break
    return latencies, errors


@dataclass
class Figures:
    """What one server did at one store size."""

    server: str
    loaded: Loaded
    rates: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)


def measure(server: Server, loaded: Loaded, workload: Workload, clients: int,
            args: argparse.Namespace) -> Figures:
    figures = Figures(server.name, loaded)
    phases: list[tuple[str, list[bytes], int, int]] = [
        ("batch POST, 100/request", workload.batches, 100, clients),
        ("batch POST, no ids", workload.batches_without_ids, 100, clients),
        ("single POST", workload.singles, 1, clients),
        ("single POST, 1 client", workload.lone_singles, 1, 1),
    ]
    # Not measured: each worker process opens the tenant's store and meets its vocabulary
    # (agents, activities, verbs) at its first writes, as a server does once after it starts.
    _, _, acknowledged = post_rate(server, workload.warm_up, 100, clients, args.phase_seconds)
    for name, bodies, per_body, phase_clients in phases:
        rate, note, stored = post_rate(server, bodies, per_body, phase_clients,
                                       args.phase_seconds)
        figures.rates[name], figures.notes[name] = rate, note
        acknowledged += stored
        print(f"    {name:<38}: {per_second(rate):>10} statements/s{note}", flush=True)
    loaded.grown(acknowledged)
    queries = {**QUERIES, "since (middle of the store)": {"since": loaded.middle_stored}}
    for name, params in queries.items():
        found, errors = get_latencies(server, params, args.gets, args.phase_seconds)
        figures.latencies[f"GET {name}"] = found
        failed = f", {len(errors)} errors, first: {errors[0]}" if errors else ""
        timing = (f"p50 {percentile(found, 50):8.1f} ms, p95 {percentile(found, 95):8.1f} ms"
                  if found else "no answer")
        print(f"    GET {name:<34}: {timing} ({len(found)} requests{failed})", flush=True)
    return figures


@dataclass(frozen=True)
class Workload:
    """The request bodies of one size, sent identically to every server."""

    warm_up: list[bytes]
    batches: list[bytes]
    batches_without_ids: list[bytes]
    singles: list[bytes]
    lone_singles: list[bytes]

    @classmethod
    def after(cls, first: int, args: argparse.Namespace) -> Workload:
        """Statements `first`, `first + 1`… (fresh ids): batches of 100 to warm the server up,
        batches of 100, batches of 100 without ids (Moodle's logstore_xapi lets the LRS give
        them), then singles."""
        counter = iter(range(first, first + (args.warm_up + 2 * args.batches) * 100
                             + 2 * args.singles))
        dumps: Callable[[Any], bytes] = lambda value: json.dumps(value).encode()  # noqa: E731
        return cls(
            [dumps([statement(next(counter)) for _ in range(100)]) for _ in range(args.warm_up)],
            [dumps([statement(next(counter)) for _ in range(100)]) for _ in range(args.batches)],
            [dumps([without_id(statement(next(counter))) for _ in range(100)])
             for _ in range(args.batches)],
            [dumps(statement(next(counter))) for _ in range(args.singles)],
            [dumps(statement(next(counter))) for _ in range(args.singles)],
        )


def print_summary(size: int, figures: list[Figures]) -> None:
    print(f"\n  summary at {size:,} statements" + (
        f" (ratio = {figures[0].server} / {figures[1].server})" if len(figures) > 1 else ""))
    for name in figures[0].rates:
        values = [f.rates[name] for f in figures]
        ratio = f"   {values[0] / values[1]:8.1f}x" if len(values) > 1 and values[1] else ""
        print(f"    {name:<38}: " + "  ".join(f"{per_second(v):>10}/s" for v in values)
              + ratio)
    for name in figures[0].latencies:
        if not all(f.latencies[name] for f in figures):
            continue
        p95 = [percentile(f.latencies[name], 95) for f in figures]
        p50 = [percentile(f.latencies[name], 50) for f in figures]
        ratio = f"   {p95[1] / p95[0]:8.1f}x" if len(p95) > 1 else ""
        print(f"    {name:<38}: " + "  ".join(
            f"p50 {a:7.1f} p95 {b:7.1f} ms" for a, b in zip(p50, p95, strict=True)) + ratio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k",
                        help="store sizes, comma-separated (10k, 1m, 10m…)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/vigie-lrs-bench"),
                        help="where loaded stores are kept for later runs")
    parser.add_argument("--database", help="PostgreSQL URI (default: SQLite under --dir)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="vigie server processes")
    parser.add_argument("--clients", type=int, default=4, help="client processes for POSTs")
    parser.add_argument("--batches", type=int, default=500,
                        help="batches of 100 to POST, with ids then without")
    parser.add_argument("--warm-up", type=int, default=20,
                        help="batches of 100 POSTed first, not measured")
    parser.add_argument("--singles", type=int, default=2000, help="single POSTs per phase")
    parser.add_argument("--gets", type=int, default=100, help="GETs per query")
    parser.add_argument("--phase-seconds", type=float, default=120,
                        help="most seconds a phase may take (it reports what it did)")
    parser.add_argument("--ralph", type=Path, help="virtualenv of ralph-malph[lrs,cli]")
    parser.add_argument("--ralph-max-size", default="1m",
                        help="largest store size Ralph is measured at")
    parser.add_argument("--ralph-clients", type=int, default=1,
                        help="client processes for Ralph's POSTs (see RALPH_APPENDING)")
    args = parser.parse_args()
    root = args.dir / "vigie"
    root.mkdir(parents=True, exist_ok=True)
    storage = ["--database", args.database] if args.database else ["--root", str(root)]
    print(f"vigie bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for size in [size_of(text) for text in args.sizes.split(",")]:
        tenant = f"s{label(size)}"
        if tenant not in vigie("tenant", "list", *storage):
            vigie("tenant", "add", tenant, *storage)
        print(f"\nstore of {size:,} statements", flush=True)
        loaded = load_vigie(root, args.database, tenant, size, args.workers)
        print(f"  vigie: tenant {tenant} of {args.database or root}, holds "
              f"{loaded.statements:,} statements, {loaded.how}; {args.clients} clients",
              flush=True)
        workload = Workload.after(size, args)
        figures = []
        with vigie_server(storage, tenant, args.workers, args.dir / "vigie-server.log") as up:
            figures.append(measure(up, loaded, workload, args.clients, args))
        if args.ralph and size > size_of(args.ralph_max_size):
            print(f"  Ralph: not measured above --ralph-max-size {args.ralph_max_size} (every "
                  "POST and most GETs read its whole file: their time grows with the store)")
        elif args.ralph:
            folder = args.dir / f"ralph-{label(size)}"
            ralph_loaded = load_ralph(folder, size)
            print(f"  Ralph: {folder / 'data' / 'fs_lrs.jsonl'}, holds "
                  f"{ralph_loaded.statements:,} statements, {ralph_loaded.how}; "
                  f"{args.ralph_clients} client(s)", flush=True)
            with ralph_server(args.ralph, folder) as up:
                figures.append(measure(up, ralph_loaded, workload, args.ralph_clients, args))
        print_summary(size, figures)
        print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
