"""Dashboard benchmark: latency of every shipped indicator, from the daily table and from events.

Usage:
    python bench/dashboard.py --lake demo/lake            # an existing lake
    python bench/dashboard.py --demo 4                    # builds a demo university first
                                                          # (4 × the default volume)

For each indicator it measures the cold latency (a new connection, first query) and the warm
p50/p95 over `--repeat` runs, as dashboards run it (published, small cells suppressed), first
reading the `daily` table ingestion writes, then — the baseline, in the same run — with `daily`
replaced by the same rows computed from `events` on the fly, and prints the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from vigie.indicators.catalogue import Indicator, builtin_indicators
from vigie.indicators.engine import publish
from vigie.warehouse.daily import daily_sql
from vigie.warehouse.query import connect


def connection(lake: Path, *, from_events: bool) -> duckdb.DuckDBPyConnection:
    con = connect(lake)
    if from_events:
        con.execute("CREATE OR REPLACE VIEW daily AS "
                    + daily_sql("events", partition_keys=True)).fetchall()
    return con


def timings(lake: Path, indicator: Indicator, *, from_events: bool,
            repeat: int) -> tuple[float, float, float]:
    """(cold, warm p50, warm p95) in milliseconds."""
    start = time.perf_counter()
    con = connection(lake, from_events=from_events)
    publish(indicator, con)
    cold = (time.perf_counter() - start) * 1000
    warm = []
    for _ in range(repeat):
        start = time.perf_counter()
        publish(indicator, con)
        warm.append((time.perf_counter() - start) * 1000)
    p95 = statistics.quantiles(warm, n=20)[18] if len(warm) > 1 else warm[0]
    return cold, statistics.median(warm), p95


def build_demo(scale: float) -> Path:
    from datetime import date

    from vigie.config import load_config
    from vigie.demo import generate
    from vigie.ingest.pipeline import ingest

    folder = Path(tempfile.mkdtemp(prefix="vigie-dashboard-bench-"))
    config = load_config(generate(folder / "demo", events_scale=scale, end=date(2026, 11, 20)))
    ingest(config, secret=b"bench-secret-0123456789abcdef")
    return config.lake_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, help="an existing lake folder")
    parser.add_argument("--demo", type=float, help="build a demo lake of this volume scale")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    if args.lake is None and args.demo is None:
        parser.error("give --lake or --demo")
    lake = args.lake if args.lake is not None else build_demo(args.demo)
    con = connect(lake)
    events, daily = con.sql(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM daily)").fetchall()[0]
    print(f"lake {lake}: {events:,} events, {daily:,} daily rows")
    print(f"{'indicator':<14} {'daily: cold':>12} {'p50':>8} {'p95':>8}   "
          f"{'events: cold':>12} {'p50':>8} {'p95':>8}   {'p95 ratio':>9}")
    for indicator in sorted(builtin_indicators().values(), key=lambda i: i.id):
        fast = timings(lake, indicator, from_events=False, repeat=args.repeat)
        slow = timings(lake, indicator, from_events=True, repeat=args.repeat)
        print(f"{indicator.id:<14} {fast[0]:10.0f}ms {fast[1]:6.0f}ms {fast[2]:6.0f}ms   "
              f"{slow[0]:10.0f}ms {slow[1]:6.0f}ms {slow[2]:6.0f}ms   {slow[2] / fast[2]:8.1f}×")


if __name__ == "__main__":
    main()
