"""A synthetic French university, written as the files vigie reads: directory, logs, config.

`generate()` draws a population (SUPANN directory), then every usage event of every service as
numpy arrays, and writes each log in its real format (one small function per format, see
:mod:`vigie.demo.sources`). The same seed and the same `end` give byte-identical files.

Default size (6,000 people, 120 days): about 1.7 million log lines with the formats shipped
today (CAS, Apache, Moodle), 2.4 million once all seven generators' formats ship, written in 5
to 10 seconds on two cores.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from vigie.demo import catalog as cat
from vigie.demo.events import Events, draw_events
from vigie.demo.people import Population, draw_population, write_ldif
from vigie.demo.rhythm import build_calendar
from vigie.demo.sources import GENERATORS, Context, Source
from vigie.sources.spec import builtin_formats

__all__ = ["MANIFEST", "build_context", "generate"]

#: What was generated (sizes, counts, deliberately malformed lines), beside the config.
MANIFEST = "demo-manifest.json"

_DEFAULT_PEOPLE = 6_000
_DEFAULT_DAYS = 120

def generate(
    out: Path,
    *,
    seed: int = 2024,
    people: int = _DEFAULT_PEOPLE,
    days: int = _DEFAULT_DAYS,
    end: date | None = None,
    events_scale: float = 1.0,
    stream: int = 0,
) -> Path:
    """Writes a synthetic university into `out/` and returns the path of `out/vigie.toml`.

    Args:
        out: the directory to write into (created if needed; files are overwritten).
        seed: the random seed; the same seed and `end` give identical files.
        people: people in the directory (about 1 % more accounts appear only in the logs).
        days: length of the window, in days.
        end: last day of the window; yesterday when None.
        events_scale: multiplies the number of events (1.0 = about 1.7 to 2.4 million log
            lines at the default size, depending on the shipped formats).
        stream: another number draws other events for the same people: consecutive windows
            of a period too long to generate in memory at once (`bench/dashboard.py`).

    Only formats that vigie ships are generated and declared, so the config always loads.
    """
    if people < 10:
        raise ValueError(f"people must be at least 10, got {people}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if events_scale <= 0:
        raise ValueError(f"events_scale must be positive, got {events_scale}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    end = end or date.today() - timedelta(days=1)
    ctx = build_context(
        out, seed=seed, people=people, days=days, end=end, events_scale=events_scale,
        stream=stream,
    )
    academic_year = end.year if end.month >= 9 else end.year - 1
    write_ldif(ctx.population, out / "annuaire.ldif", academic_year=academic_year)
    shipped = builtin_formats()
    sources = [make(ctx) for name, make in GENERATORS.items() if name in shipped]
    config = out / "vigie.toml"
    config.write_text(_config_text(sources, seed, people, days, end), encoding="utf-8")
    _write_manifest(out / MANIFEST, sources, ctx.population, seed, people, days, end, events_scale)
    return config


def build_context(
    out: Path, *, seed: int, people: int, days: int, end: date, events_scale: float,
    stream: int = 0,
) -> Context:
    """The population, the calendar and every CAS ticket: what all log generators start from.

    The population depends on `seed` only; the events on `seed` and `stream`.
    """
    population = draw_population(np.random.default_rng([seed, 1]), people)
    calendar = build_calendar(end, days, "B")
    scale = people / _DEFAULT_PEOPLE * days / _DEFAULT_DAYS * events_scale
    cas = Events.concat(
        [
            draw_events(
                np.random.default_rng([seed, 2, i, *([stream] if stream else [])]),
                population,
                calendar,
                profile,
                round(profile.volume * scale),
                tag=i,
            )
            for i, profile in enumerate(cat.SERVICES)
        ]
    ).sorted()
    return Context(
        out=out, seed=seed, population=population, calendar=calendar, scale=scale, cas=cas,
        stream=stream,
    )


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _config_text(sources: list[Source], seed: int, people: int, days: int, end: date) -> str:
    start = end - timedelta(days=days - 1)
    lines = [
        "# vigie configuration of the demo university (synthetic data: nobody in it is real).",
        f"# Written by vigie.demo.generate(seed={seed}, people={people}, days={days}):",
        f"# logs from {start.isoformat()} to {end.isoformat()}. Relative paths are read from",
        "# this file's directory.",
        "",
        "[vigie]",
        'lake = "lake"',
        'timezone = "Europe/Paris"',
        "# French school holidays of zone B (lower activity in the calendar).",
        'school_zone = "B"',
        "# The pseudonymisation key; `vigie demo` creates it, the generator never writes it.",
        'secret_file = "secret"',
        "",
        "# The SUPANN directory as LDIF: people (ou=people) and structures (ou=structures).",
        "[directory]",
        'ldif = "annuaire.ldif"',
        "",
        "# The campus IP plan: zone -> CIDR blocks. Any other address is 'outside'.",
        "[network]",
        *(
            f"{zone} = [{', '.join(_toml(c) for c in cidrs)}]"
            for zone, cidrs in cat.NETWORK.items()
        ),
    ]
    for source in sources:
        lines += [
            "",
            f"# {source.comment}",
            "[[sources]]",
            f"name = {_toml(source.name)}",
            f"format = {_toml(source.format)}",
            f"paths = [{', '.join(_toml(p) for p in source.paths)}]",
        ]
        lines += [f"{key} = {_toml(value)}" for key, value in source.extra.items()]
        if source.service:
            lines.append(f"service = {_toml(source.service)}")
        for host, service in source.routes:
            lines += [
                "",
                "[[sources.routes]]",
                f"host = {_toml(host)}",
                f"service = {_toml(service)}",
            ]
    return "\n".join(lines) + "\n"


def _write_manifest(
    path: Path,
    sources: list[Source],
    population: Population,
    seed: int,
    people: int,
    days: int,
    end: date,
    events_scale: float,
) -> None:
    in_dir = population.in_directory
    primary = Counter(p for p, keep in zip(population.primary, in_dir, strict=True) if keep)
    files: dict[str, dict[str, object]] = {
        name: {"lines": count, "malformed_lines": source.damaged.get(name, [])}
        for source in sources
        for name, count in source.lines.items()
    }
    manifest = {
        "seed": seed,
        "people": people,
        "days": days,
        "end": end.isoformat(),
        "events_scale": events_scale,
        "directory": {
            "entries": int(in_dir.sum()),
            "primary_affiliation": dict(sorted(primary.items())),
            "anomalies": population.anomalies,
        },
        "sources": {s.name: s.format for s in sources},
        "files": files,
        "total_lines": sum(count for s in sources for count in s.lines.values()),
    }
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
