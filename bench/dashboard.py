"""Dashboard benchmark: latency of every default panel, cold and warm, on a large lake.

Usage:
    python bench/dashboard.py --dir /tmp/vigie-100m       # builds a ≥ 100 M-event lake there
                                                          # once (about 15 minutes), then
                                                          # measures; later runs reuse it
    python bench/dashboard.py --lake demo/lake            # any existing lake
    python bench/dashboard.py --dir /tmp/vigie-10m --days 46   # smaller: one window, 15 M

The lake is built through the real path: the demo generator writes a synthetic university's
log files (`vigie.demo.generate`, 30,000 people over a year by default) in windows of
`--window-days` days (the generator holds a window in memory; each window draws other events
for the same people), and each window is ingested by `vigie.ingest` into the same lake, oldest
first, as successive runs would; its logs are then deleted. How it was built is recorded in
`lake.json` beside it; its size (events, daily rows, bytes, files) is printed with the figures.

A panel is an indicator as a shipped dashboard shows it, with the dashboard's fixed service if
any (and, on the Authentication page, its single sign-on sources: the lake's sources read in a
`sign_on` format), published (small cells suppressed), over the whole lake (`--period all`: the
API's default, the heaviest) or over the academic year of the lake's last day (`--period year`:
the pages' default). Each panel runs in a fresh process: cold is its first run, the lake's files
dropped from the operating system's page cache first (`posix_fadvise`, no root needed), with a
new connection; warm is the p50 and p95 of `--repeat` more runs on that connection.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

SECRET = b"bench-secret-0123456789abcdef"
END = date(2026, 11, 20)


@dataclass(frozen=True)
class LakeSize:
    """What a benchmark lake holds."""

    events: int
    daily_rows: int
    bytes: int
    files: int
    first_day: str
    last_day: str


def build(folder: Path, *, people: int, days: int, scale: float, window_days: int) -> Path:
    """Generates and ingests a lake in `folder/lake`, unless `folder/lake.json` says it is done."""
    from vigie.config import load_config
    from vigie.demo import generate
    from vigie.ingest.pipeline import ingest

    lake = folder / "lake"
    if (folder / "lake.json").exists():
        return lake
    started = time.perf_counter()
    windows = [(END - timedelta(days=first), min(window_days, days - first))
               for first in range(0, days, window_days)]
    for stream, (end, length) in enumerate(reversed(windows)):
        logs = folder / "logs" / f"window-{stream}"
        step = time.perf_counter()
        config_path = generate(logs, people=people, days=length, end=end, events_scale=scale,
                               stream=stream)
        text = config_path.read_text(encoding="utf-8")
        config_path.write_text(text.replace('lake = "lake"', f'lake = "{lake}"'),
                               encoding="utf-8")
        generated = time.perf_counter() - step
        report = ingest(load_config(config_path), secret=SECRET)
        print(f"window {stream + 1}/{len(windows)} ({end - timedelta(days=length - 1)} to "
              f"{end}): {report.rows:,} events, generated in {generated:.0f} s, ingested in "
              f"{time.perf_counter() - step - generated:.0f} s", flush=True)
        shutil.rmtree(logs)
    record = {"people": people, "days": days, "scale": scale,
              "build_seconds": round(time.perf_counter() - started)}
    (folder / "lake.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return lake


def lake_size(lake: Path) -> LakeSize:
    from vigie.warehouse.query import connect

    con = connect(lake)
    events, daily, first, last = con.sql(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM daily), "
        "(SELECT min(day) FROM daily), (SELECT max(day) FROM daily)").fetchall()[0]
    files = [p for p in lake.rglob("*.parquet") if p.relative_to(lake).parts[0] != "_vigie"]
    return LakeSize(events=events, daily_rows=daily, bytes=sum(p.stat().st_size for p in files),
                    files=len(files), first_day=first.isoformat(), last_day=last.isoformat())


@dataclass(frozen=True)
class Panel:
    """One indicator as a shipped dashboard shows it: with its fixed service and sources."""

    indicator: str
    service: str | None = None
    source: str | None = None

    @property
    def name(self) -> str:
        fixed = [value for value in (self.service, self.source) if value]
        return self.indicator + (f" ({', '.join(fixed)})" if fixed else "")


def sign_on_sources(lake: Path) -> list[str]:
    """The lake's sources read in a single sign-on's format (what a configuration says)."""
    from vigie.sources.spec import builtin_formats
    from vigie.warehouse.query import connect

    formats = builtin_formats()
    pairs = connect(lake).sql("SELECT DISTINCT source, format FROM source_hours").fetchall()
    return sorted(source for source, name in pairs if name in formats and formats[name].sign_on)


def default_panels(lake: Path) -> list[Panel]:
    """Every distinct (indicator, fixed filters) of the shipped dashboards."""
    from vigie.indicators.catalogue import builtin_indicators
    from vigie.web.dashboards import fixed_filters, load_dashboards

    sign_on = sign_on_sources(lake)
    found: dict[Panel, None] = {}
    for board in load_dashboards(builtin_indicators()).values():
        for panel in board.panels:
            found[Panel(panel.indicator, **fixed_filters(board, panel, sign_on))] = None
    return sorted(found, key=lambda p: (p.indicator, p.service or "", p.source or ""))


def evict(lake: Path) -> None:
    """Drops the lake's files from the operating system's page cache (no root needed)."""
    for path in lake.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def measure_panel(lake: Path, panel: Panel, period: tuple[date, date] | None,
                  repeat: int) -> dict[str, float]:
    """Cold, then warm timings of one panel, in milliseconds (in a fresh process)."""
    from vigie.indicators.catalogue import builtin_indicators
    from vigie.indicators.engine import publish
    from vigie.indicators.filters import Filters
    from vigie.warehouse.query import connect

    indicator = builtin_indicators()[panel.indicator]
    bounds = {"start": period[0], "end": period[1]} if period else {}
    filters = Filters(service=panel.service, source=panel.source,
                      **(bounds if "period" in indicator.meta.filters else {}))
    evict(lake)
    start = time.perf_counter()
    con = connect(lake)
    publish(indicator, con, filters)
    cold = (time.perf_counter() - start) * 1000
    warm = []
    for _ in range(repeat):
        start = time.perf_counter()
        publish(indicator, con, filters)
        warm.append((time.perf_counter() - start) * 1000)
    return {"cold": cold, "p50": statistics.median(warm),
            "p95": statistics.quantiles(warm, n=20, method="inclusive")[18]}


def in_fresh_process(lake: Path, panel: Panel, period: tuple[date, date] | None,
                     repeat: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--lake", str(lake), "--panel", panel.indicator,
               "--repeat", str(repeat)]
    if panel.service:
        command += ["--service", panel.service]
    if panel.source:
        command += ["--source", panel.source]
    if period:
        command += ["--between", period[0].isoformat(), period[1].isoformat()]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="example: python bench/dashboard.py --dir /tmp/vigie-100m --period year",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--dir", type=Path, help="build the lake here once, then reuse it")
    where.add_argument("--lake", type=Path, help="an existing lake folder")
    parser.add_argument("--people", type=int, default=30_000, help="when building")
    parser.add_argument("--days", type=int, default=365, help="when building")
    parser.add_argument("--scale", type=float, default=3.2,
                        help="events_scale of the generator when building (3.2: ≥ 100 M)")
    parser.add_argument("--window-days", type=int, default=46, help="when building")
    parser.add_argument("--period", choices=["all", "year"], default="all")
    parser.add_argument("--repeat", type=int, default=20, help="warm runs per panel")
    parser.add_argument("--only", action="append", help="only this indicator (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--panel", help=argparse.SUPPRESS)  # one panel, in a fresh process
    parser.add_argument("--service", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--between", nargs=2, type=date.fromisoformat, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.panel:
        print(json.dumps(measure_panel(args.lake, Panel(args.panel, args.service, args.source),
                                       args.between, args.repeat)))
        return
    lake = args.lake
    if args.dir is not None:
        lake = build(args.dir, people=args.people, days=args.days, scale=args.scale,
                     window_days=args.window_days)
    size = lake_size(lake)
    print(f"lake {lake}: {size.events:,} events, {size.daily_rows:,} daily rows, "
          f"{size.bytes / 1e9:.2f} GB in {size.files:,} files, {size.first_day} to "
          f"{size.last_day}; load average {os.getloadavg()[0]:.1f}")
    period = None
    if args.period == "year":
        last = date.fromisoformat(size.last_day)
        period = (date(last.year if last.month >= 9 else last.year - 1, 9, 1), last)
    print(f"{'panel':<34} {'cold':>8} {'warm p50':>9} {'warm p95':>9}")
    figures = {}
    for panel in default_panels(lake):
        if args.only and panel.indicator not in args.only:
            continue
        figures[panel.name] = got = in_fresh_process(lake, panel, period, args.repeat)
        print(f"{panel.name:<34} {got['cold']:6.0f}ms {got['p50']:7.0f}ms {got['p95']:7.0f}ms",
              flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"lake": asdict(size), "period": args.period,
                                         "panels": figures}, indent=2) + "\n",
                             encoding="utf-8")


if __name__ == "__main__":
    main()
