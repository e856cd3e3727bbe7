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
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from vigie.lrs.loadgen import Load, all_ids, client_loop
from vigie.lrs.tenants import TenantRegistry

HEADERS = {"X-Experience-API-Version": "1.0.3"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        threads = [threading.Thread(target=client_loop, args=(base, headers, load),
                                    kwargs={"seed": seed, "deadline": deadline,
                                            "max_requests": 10**9})
                   for seed in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - began
        stored = all_ids(base, headers)
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
