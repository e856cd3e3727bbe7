"""Where an ingestion's CPU goes: thread CPU time of each stage, one chunk at a time.

Usage:
    python bench/ingest.py --lines 10000000 --formats apache_combined --dir /tmp/ib10
    python bench/ingest_stages.py /tmp/ib10/apache_combined

A diagnostic companion of `bench/ingest.py` (it reuses the folder that script leaves: logs,
directory and `vigie.toml`): it ingests the folder's logs anew with a single chunk in flight
and DuckDB on one thread, so that each stage's thread CPU time is its own cost rather than a
share of two busy cores, and prints the stages as seconds and microseconds per line. The
lake is written in the folder's `lake` (replaced).
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import vigie.ingest.enrich as enrich
import vigie.ingest.files as files
import vigie.ingest.pipeline as pipeline
import vigie.ingest.run as run
import vigie.sources.compile as compile_
import vigie.sources.reader as reader
from vigie.config import load_config

SECRET = b"bench-secret-0123456789abcdef"

#: (label, owner, attribute) of each timed stage; nested stages are indented.
STAGES: list[tuple[str, Any, str]] = [
    ("read and split lines", reader, "_to_lines"),
    ("chunk (parse to write)", run.SourceRun, "process"),
    ("  parse", compile_.CompiledFormat, "parse"),
    ("  enrich", enrich.Enricher, "events"),
    ("    lookups", enrich.Lookup, "match"),
    ("    directory rows", enrich.People, "rows"),
    ("  daily rows", run, "daily_rows"),
    ("  write Parquet", run, "_write_parquet"),
]


def _timed(cpu: dict[str, float], label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            cpu[label] += time.thread_time() - start
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a format's folder left by bench/ingest.py")
    args = parser.parse_args()
    files.IN_FLIGHT = 1
    # The pipeline gives DuckDB cores // IN_FLIGHT threads: one, on two cores.
    setattr(pipeline, "IN_FLIGHT", 2)  # noqa: B010 (its own import of the constant)
    cpu: dict[str, float] = defaultdict(float)
    for label, owner, attribute in STAGES:
        setattr(owner, attribute, _timed(cpu, label, getattr(owner, attribute)))
    shutil.rmtree(args.folder / "lake", ignore_errors=True)
    config = load_config(args.folder / "vigie.toml")
    start, process_start = time.perf_counter(), time.process_time()
    report = pipeline.ingest(config, secret=SECRET, compact_after=False)
    wall, total = time.perf_counter() - start, time.process_time() - process_start
    lines = report.rows + report.quarantined
    print(f"{lines:,} lines in {wall:.2f} s with one chunk in flight; "
          f"CPU {total:.2f} s = {total / lines * 1e6:.2f} µs per line")
    for label, _, _ in STAGES:
        print(f"  {label:26s} {cpu[label]:7.2f} s  {cpu[label] / lines * 1e6:5.2f} µs/line")


if __name__ == "__main__":
    main()
