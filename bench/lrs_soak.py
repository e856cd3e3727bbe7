"""LRS soak test: N concurrent clients posting statements to `vigie lrs serve` for S seconds.

Usage:
    python bench/lrs_soak.py                          # 100 clients, 300 s
    python bench/lrs_soak.py --clients 100 --seconds 120

It starts a real server (uvicorn, one process) on a free 127.0.0.1 port over a fresh folder,
creates a tenant and a credential, then runs `--clients` threads, each with its own keep-alive
httpx client, until `--seconds` have passed: batches of 2 to 20 statements (45 %), single
POSTs (40 %), single PUTs (10 %) and re-sends of an acknowledged batch (5 %, idempotent: the
same ids come back and nothing is stored twice). Every statement carries a known id.

It prints the requests and statements acknowledged, the errors (any non-2xx answer, wrong ids
or transport error; must be 0), p50/p95/p99/max request latencies, and a final no-loss check:
the ids read back through `GET /statements` (paged with `more`) must be exactly the ids
acknowledged, with no duplicate. Exit status 1 if there was an error or a loss. Traffic goes
to loopback only; the server is stopped by PID.
"""

from __future__ import annotations

import argparse
import base64
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from vigie.lrs.tenants import TenantRegistry

HEADERS = {"X-Experience-API-Version": "1.0.3"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def statement(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent",
                  "account": {"homePage": "https://moodle.univ-demo.fr", "name": f"u{n % 5000}"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "saw"}},
        "object": {"id": f"https://moodle.univ-demo.fr/mod/page/view.php?id={n % 2000}",
                   "definition": {"name": {"fr-FR": f"Page {n % 2000}"}}},
        "context": {"contextActivities": {"parent": [
            {"id": f"https://moodle.univ-demo.fr/course/view.php?id={n % 100}"}]},
            "platform": "Moodle"},
        "result": {"score": {"raw": n % 20, "min": 0, "max": 20}},
    }


@dataclass
class Load:
    acked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def client(base: str, headers: dict[str, str], load: Load, seed: int, deadline: float) -> None:
    rng = random.Random(seed)
    sent: list[list[dict[str, Any]]] = []
    n = 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        while time.monotonic() < deadline:
            n += 1
            roll = rng.random()
            resend = roll < 0.05 and bool(sent)
            if resend:
                batch = rng.choice(sent)
            elif roll < 0.45:
                batch = [statement(seed * 1_000_000 + n * 20 + k)
                         for k in range(rng.randint(2, 20))]
            else:
                batch = [statement(seed * 1_000_000 + n * 20)]
            put = not resend and len(batch) == 1 and roll > 0.85
            began = time.perf_counter()
            try:
                if put:
                    response = http.put("/statements", params={"statementId": batch[0]["id"]},
                                        json=batch[0])
                else:
                    response = http.post("/statements", json=batch)
            except httpx.TransportError as exc:
                with load.lock:
                    load.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - began
            ok = response.status_code == (204 if put else 200)
            if ok and not put and response.json() != [s["id"] for s in batch]:
                ok = False
            with load.lock:
                load.requests += 1
                load.latencies.append(elapsed)
                if not ok:
                    load.errors.append(f"{response.status_code} {response.text[:200]}")
                elif not resend:
                    load.acked.extend(s["id"] for s in batch)
            if ok and not resend:
                sent.append(batch)


def read_back(port: int, headers: dict[str, str]) -> list[str]:
    ids: list[str] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as http:
        response = http.get("/xAPI/statements",
                            params={"limit": 500, "ascending": "true", "format": "ids"})
        while True:
            response.raise_for_status()
            page = response.json()
            ids += [s["id"] for s in page["statements"]]
            if not page["more"]:
                return ids
            response = http.get(page["more"])


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vigie-lrs-soak-"))
    registry = TenantRegistry(root)
    registry.add_tenant("soak")
    new = registry.add_credential("soak", scopes=("all",), label="soak")
    registry.close()
    token = base64.b64encode(f"{new.key}:{new.secret}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", **HEADERS}
    port = free_port()
    log = (root / "server.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "vigie.cli", "lrs", "serve", "--root",
                               str(root), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}/xAPI"
        for _ in range(200):
            try:
                httpx.get(f"{base}/about", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            print("the server did not start; see", root / "server.log")
            return 1
        load = Load()
        began = time.monotonic()
        deadline = began + args.seconds
        threads = [threading.Thread(target=client, args=(base, headers, load, seed, deadline))
                   for seed in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - began
        stored = read_back(port, headers)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    duplicates = sum(1 for count in Counter(stored).values() if count > 1)
    lost = set(load.acked) - set(stored)
    unexpected = set(stored) - set(load.acked)
    ms = sorted(1000 * value for value in load.latencies)
    print(f"clients {args.clients}, {wall:.1f} s, root {root}")
    print(f"requests acknowledged: {load.requests - len(load.errors):,} "
          f"({(load.requests - len(load.errors)) / wall:,.0f}/s)")
    print(f"statements acknowledged: {len(load.acked):,} ({len(load.acked) / wall:,.0f}/s)")
    print(f"errors: {len(load.errors)}" + (f" (first: {load.errors[0]})" if load.errors else ""))
    print(f"latency ms: p50 {percentile(ms, 50):.1f}, p95 {percentile(ms, 95):.1f}, "
          f"p99 {percentile(ms, 99):.1f}, max {ms[-1]:.1f}")
    print(f"read back: {len(stored):,} statements, lost {len(lost)}, duplicated {duplicates}, "
          f"unexpected {len(unexpected)}")
    print(f"server log: {(root / 'server.log').stat().st_size} bytes")
    return 1 if load.errors or lost or duplicates or unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
