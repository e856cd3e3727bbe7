"""LRS benchmark: `vigie lrs serve` on loopback, batch and single POSTs, GET latencies.

Usage:
    python bench/lrs.py                      # store of 10,000 statements
    python bench/lrs.py --size 100000 --clients 4
    PGPASSWORD=… python bench/lrs.py --database postgresql://vigie@127.0.0.1/lrs_bench

It starts a real server (uvicorn, one process) on a free 127.0.0.1 port, creates a tenant and a
credential, then measures, over HTTP with keep-alive: POST of batches of 100 statements, single
POSTs, and GET latency (p50/p95) of `verb`, `agent`, `activity` + `related_activities` and
`since` queries once the store holds `--size` statements. Requests are bounded in number and
time and go to loopback only. With `--clients N`, N clients POST the batches in parallel.
With `--database`, the LRS runs on that PostgreSQL database (empty, or holding no `bench`
tenant; its password from libpq's PGPASSWORD or ~/.pgpass) instead of a temporary folder.
(The Ralph comparison the LRS issue asks for is not measured yet.)
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

VERBS = ["http://adlnet.gov/expapi/verbs/experienced", "http://adlnet.gov/expapi/verbs/completed",
         "http://adlnet.gov/expapi/verbs/answered", "https://w3id.org/xapi/video/verbs/played"]
HEADERS = {"X-Experience-API-Version": "1.0.3"}


def statement(i: int, start: datetime) -> dict[str, Any]:
    """A realistic Moodle-like statement; learners, verbs and activities vary with `i`."""
    return {
        "id": str(uuid.uuid4()),
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
        "timestamp": (start + timedelta(seconds=i)).isoformat(),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vigie(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "vigie.cli", *args], check=True,
                          capture_output=True, text=True)
    return done.stdout


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="statements in the store")
    parser.add_argument("--singles", type=int, default=500, help="single POSTs to time")
    parser.add_argument("--gets", type=int, default=100, help="GETs per query kind")
    parser.add_argument("--clients", type=int, default=1, help="parallel batch POSTers")
    parser.add_argument("--database", help="PostgreSQL URI (default: a temporary folder)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vigie-lrs-bench-"))
    storage = ["--database", args.database] if args.database else ["--root", str(root)]
    vigie("lrs", "tenant", "add", "bench", *storage)
    out = vigie("lrs", "credentials", "add", "bench", *storage, "--scope", "all")
    key = out.split("key:")[1].split()[0]
    secret = out.split("secret:")[1].split()[0]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "vigie.cli", "lrs", "serve", *storage,
                               "--port", str(port)], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/xAPI"
    try:
        with httpx.Client(auth=(key, secret), headers=HEADERS, timeout=30) as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    client.get(f"{base}/about")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            start = datetime(2026, 9, 1, tzinfo=UTC)
            batches = [[statement(i, start) for i in range(first, min(first + 100, args.size))]
                       for first in range(0, args.size, 100)]

            def post_all(mine: list[list[dict[str, Any]]]) -> None:
                with httpx.Client(auth=(key, secret), headers=HEADERS, timeout=60) as poster:
                    for batch in mine:
                        poster.post(f"{base}/statements", json=batch).raise_for_status()

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(post_all, [batches[n::args.clients] for n in range(args.clients)]))
            batch_rate = args.size / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            for i in range(args.singles):
                client.post(f"{base}/statements",
                            json=statement(args.size + i, start)).raise_for_status()
            single_rate = args.singles / (time.perf_counter() - t0)
            queries = {
                "verb": {"verb": VERBS[1]},
                "agent": {"agent": '{"account": {"homePage": "https://moodle.univ-demo.fr", '
                                   '"name": "u42"}}'},
                "activity+related": {"activity": "https://moodle.univ-demo.fr/course/view.php"
                                                 "?id=7", "related_activities": "true"},
                "since": {"since": (start + timedelta(seconds=args.size // 2)).isoformat()},
            }
            where = args.database or f"tenant database in {root}"
            print(f"store: {args.size:,} statements ({where})")
            print(f"  batch POST (100/request, {args.clients} clients): "
                  f"{batch_rate:10,.0f} statements/s")
            print(f"  single POST             : {single_rate:10,.0f} statements/s")
            for name, params in queries.items():
                latencies = []
                for _ in range(args.gets):
                    t = time.perf_counter()
                    client.get(f"{base}/statements", params={**params, "limit": "100"}
                               ).raise_for_status()
                    latencies.append((time.perf_counter() - t) * 1000)
                print(f"  GET {name:<17}: p50 {percentile(latencies, 50):6.1f} ms, "
                      f"p95 {percentile(latencies, 95):6.1f} ms")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
