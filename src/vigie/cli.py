"""The `vigie` command: a thin Typer layer over the packages (ingest, warehouse, demo).

Every command has an example in its help; errors vigie understands are printed as one clear
message (exit code 2) instead of a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigie.config import Config, load_config
from vigie.errors import VigieError
from vigie.ingest.pipeline import RunReport, compact_lake, ingest
from vigie.lrs.cli import lrs_app
from vigie.privacy.pseudonym import create_secret, secret_of
from vigie.sources.spec import available_formats
from vigie.warehouse.compact import CompactReport
from vigie.warehouse.query import connect
from vigie.web.cli import serve, web_app
from vigie.web.report import report

__all__ = ["app"]

app = typer.Typer(
    help="vigie: usage analytics of a university's digital services, from its logs and its SI.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(lrs_app, name="lrs")
app.command("serve")(serve)
app.command("report")(report)
app.add_typer(web_app, name="web")
console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The TOML configuration file.", exists=False)
]


def _run(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except VigieError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None


def run_ingest(config: Config, *, snapshot_date: date | None = None,
               sources: list[str] | None = None, compact_after: bool = True) -> RunReport:
    """Ingests with a Rich progress bar (bytes read across all files)."""
    secret = secret_of(config)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
        TimeElapsedColumn(), console=console, transient=False,
    ) as progress:
        task = progress.add_task("ingestion", total=None)

        def advance(source: str, path: Path, read: int) -> None:
            progress.update(task, advance=read, description=f"{source}: {path.name}")

        report = ingest(config, secret=secret, snapshot_date=snapshot_date, progress=advance,
                        sources=sources, compact_after=compact_after)
        progress.update(task, description="ingestion done")
    return report


def print_summary(config: Config, report: RunReport) -> None:
    """Events per service, distinct users per service × population, quarantine per file."""
    con = connect(config.lake_path)
    if report.people is not None:
        console.print(f"Directory snapshot: [bold]{_n(report.people)}[/] people")
    if report.directory_error is not None:
        console.print(f"[bold yellow]warning:[/] directory not read ({report.directory_error}); "
                      "events were enriched with the latest snapshot in the lake")
    per_service = con.sql(
        "SELECT service, count(*) AS events, count(DISTINCT user_pseudo) AS users "
        "FROM events GROUP BY service ORDER BY events DESC"
    ).fetchall()
    table = Table(title="Events in the lake per service")
    for column in ("service", "events", "distinct users"):
        table.add_column(column, justify="left" if column == "service" else "right")
    for service, events, users in per_service:
        table.add_row(service, _n(events), _n(users))
    console.print(table)
    pivot = con.sql(
        "SELECT service, population, count(DISTINCT user_pseudo) AS users FROM events "
        "WHERE user_pseudo IS NOT NULL GROUP BY ALL ORDER BY service, users DESC"
    ).fetchall()
    if pivot:
        users = Table(title="Distinct pseudonymous users per service × population")
        users.add_column("service")
        users.add_column("users by population", overflow="fold")
        by_service: dict[str, list[str]] = {}
        for service, population, count in pivot:
            by_service.setdefault(service, []).append(f"{population} {_n(count)}")
        for service, _, _ in per_service:
            users.add_row(service, " · ".join(by_service.get(service, [])))
        console.print(users)
    files = Table(title="This run, per file")
    for column in ("source", "file", "new events", "quarantined", "error"):
        files.add_column(column, justify="right" if column in ("new events", "quarantined")
                         else "left")
    for f in report.files:
        files.add_row(f.source, f.path.name, _n(f.rows), _n(f.quarantined), f.error or "")
    console.print(files)
    console.print(
        f"Run: [bold]{_n(report.rows)}[/] new events, [bold]{_n(report.quarantined)}[/] "
        "lines quarantined (see `vigie query \"SELECT * FROM quarantine\"`)."
    )
    if report.compaction is not None:
        print_compaction(report.compaction)


def print_compaction(report: CompactReport) -> None:
    console.print(f"Summaries: {_n(report.folded)} new files folded in "
                  f"({len(report.services)} services, {report.seconds:.1f} s), "
                  f"{_n(report.expired)} expired month partitions dropped.")


def _n(value: int) -> str:
    """French digit grouping (narrow no-break space): 1 234 567."""
    return f"{value:,}".replace(",", "\u202f")


@app.command("ingest")
def ingest_command(
    config: ConfigOption = Path("vigie.toml"),
    source: Annotated[list[str] | None, typer.Option(
        "--source", "-s", help="Only this source (repeatable).")] = None,
    snapshot_date: Annotated[str | None, typer.Option(
        help="Date of the directory snapshot (YYYY-MM-DD); default: today.")] = None,
    compact: Annotated[bool, typer.Option(
        help="Fold the new files into the dashboards' summaries at the end (see `vigie "
             "compact`).")] = True,
) -> None:
    """Reads new log lines of every source into the lake (idempotent: safe to rerun).

    Example, from cron every night:  [bold]vigie ingest -c /etc/vigie/vigie.toml[/]
    """
    def action() -> None:
        cfg = load_config(config)
        on = date.fromisoformat(snapshot_date) if snapshot_date else None
        report = run_ingest(cfg, snapshot_date=on, sources=source, compact_after=compact)
        print_summary(cfg, report)
        if any(f.error for f in report.files) or report.directory_error:
            raise typer.Exit(1)

    _run(action)


@app.command("compact")
def compact_command(config: ConfigOption = Path("vigie.toml")) -> None:
    """Folds newly ingested files into the dashboards' summaries, applies the retention.

    `vigie ingest` does it after each run: run it alone after `--no-compact` runs, or on a
    lake written by an older vigie.

    Example:  [bold]vigie compact -c /etc/vigie/vigie.toml[/]
    """
    _run(lambda: print_compaction(compact_lake(load_config(config))))


@app.command("query")
def query_command(
    sql: Annotated[str, typer.Argument(help="SQL over the views events, population_daily, "
                                            "directory, quarantine.")],
    config: ConfigOption = Path("vigie.toml"),
    lake: Annotated[Path | None, typer.Option(help="Lake folder (instead of --config).")] = None,
    output: Annotated[Literal["table", "json", "csv"], typer.Option(
        "--format", "-f", help="Output format.")] = "table",
) -> None:
    """Runs SQL over the lake and prints the result.

    Example:  [bold]vigie query "SELECT service, count(*) FROM events GROUP BY 1" -f csv[/]
    """
    def action() -> None:
        folder = lake if lake is not None else load_config(config).lake_path
        con = connect(folder)
        try:
            result = con.sql(sql)
        except Exception as exc:  # duckdb raises many types; all mean "this SQL is wrong"
            raise VigieError(f"query failed: {str(exc).splitlines()[0]}") from exc
        if result is None:
            return
        names, rows = result.columns, result.fetchall()
        if output == "json":
            json.dump([dict(zip(names, r, strict=True)) for r in rows], sys.stdout,
                      default=str, ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
        elif output == "csv":
            import csv

            writer = csv.writer(sys.stdout)
            writer.writerow(names)
            writer.writerows(rows)
        else:
            table = Table(*names)
            for r in rows:
                table.add_row(*("" if v is None else str(v) for v in r))
            console.print(table)

    _run(action)


@app.command("indicators")
def indicators_command(
    config: Annotated[Path | None, typer.Option("--config", "-c",
                                                help="The TOML configuration file.")] = None,
    lake: Annotated[Path | None, typer.Option(help="Lake folder (instead of --config).")] = None,
    indicator: Annotated[list[str] | None, typer.Option(
        "--id", help="Indicator id (repeatable); all when absent.")] = None,
    list_only: Annotated[bool, typer.Option("--list", help="Only list the catalogue.")] = False,
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    population: Annotated[str | None, typer.Option(help="Only this population.")] = None,
    structure: Annotated[str | None, typer.Option(help="Only this structure code.")] = None,
    etape: Annotated[str | None, typer.Option(help="Only this study step.")] = None,
    zone: Annotated[str | None, typer.Option(help="Only this network zone.")] = None,
    device: Annotated[str | None, typer.Option(help="Only this device class.")] = None,
    k: Annotated[int | None, typer.Option(help="Suppression threshold (default: config, 5).")
                 ] = None,
    engine: Annotated[Literal["duckdb", "spark"], typer.Option(
        help="Query engine: embedded DuckDB, or Apache Spark (local mode).")] = "duckdb",
    output: Annotated[Literal["table", "json", "csv"], typer.Option(
        "--format", "-f", help="Output format (csv: one indicator).")] = "table",
) -> None:
    """Computes indicators over the lake, with small counts of people suppressed.

    Example:  [bold]vigie indicators -c vigie.toml --id adoption --from 2026-09-01 --service ent[/]
    """
    from vigie.indicators.catalogue import catalogue_index, load_catalogue
    from vigie.indicators.filters import Filters
    from vigie.indicators.privacy import render_fr
    from vigie.indicators.runner import publish_selection, select

    def action() -> None:
        cfg = load_config(config) if config is not None else None
        folders = [cfg.path(f) for f in cfg.indicators.folders] if cfg else []
        catalogue = load_catalogue(folders)
        if list_only:
            table = Table("id", "titre", "title")
            for row in catalogue_index(catalogue):
                table.add_row(row["id"], row["fr"], row["en"])
            console.print(table)
            return
        folder = lake if lake is not None else (cfg.lake_path if cfg else None)
        if folder is None:
            raise VigieError("give --config or --lake")
        threshold = k if k is not None else (cfg.indicators.k if cfg else 5)
        try:
            filters = Filters.model_validate(
                {"start": start, "end": end, "service": service, "population": population,
                 "structure": structure, "etape": etape, "zone": zone, "device": device})
        except ValueError as exc:
            raise VigieError(f"bad filter: {exc}") from None
        chosen = select(catalogue, indicator or [])
        if output == "csv" and len(chosen) != 1:
            raise VigieError("CSV output is for one indicator: add --id")
        results = publish_selection(folder, chosen, filters, k=threshold, engine=engine)
        if output == "json":
            json.dump({i.id: t.to_pylist() for i, t in results}, sys.stdout, default=str,
                      ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
        elif output == "csv":
            from vigie.indicators.export import to_csv

            ((_, published),) = results
            sys.stdout.write(to_csv(published, threshold))
        else:
            for ind, published in results:
                rows = render_fr(published, ind, threshold)
                table = Table(*ind.columns, title=f"{ind.meta.title.fr} ({ind.id})")
                for row in rows[:50]:
                    table.add_row(*(row[c] for c in ind.columns))
                console.print(table)
                if len(rows) > 50:
                    console.print(f"… {len(rows) - 50} more rows (use -f json or csv)")

    _run(action)


@app.command("secret")
def secret_command(
    create: Annotated[Path, typer.Option(help="Where to write a new random secret.")],
) -> None:
    """Creates the secret that keys pseudonyms (keep it outside the lake and its backups).

    Example:  [bold]vigie secret --create /etc/vigie/secret[/]
    """
    def action() -> None:
        if create.exists():
            raise VigieError(f"{create} already exists; a new secret would change every pseudonym")
        create_secret(create)
        console.print(f"Secret written to {create} (mode 600).")

    _run(action)


@app.command("formats")
def formats_command(
    config: Annotated[Path | None, typer.Option("--config", "-c",
                                                help="Also list the config's own formats.")] = None,
) -> None:
    """Lists the log formats vigie reads.

    Example:  [bold]vigie formats[/]
    """
    def action() -> None:
        custom = load_config(config).formats if config is not None else []
        table = Table("format", "kind", "description")
        for name, spec in sorted(available_formats(custom).items()):
            table.add_row(name, spec.kind, " ".join(spec.description.split()))
        console.print(table)

    _run(action)


@app.command("demo")
def demo_command(
    directory: Annotated[Path, typer.Option("--dir", help="Where to create the demo.")] = Path(
        "demo"),
    people: Annotated[int, typer.Option(help="People in the synthetic directory.")] = 6000,
    days: Annotated[int, typer.Option(help="Days of logs, ending today.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same university).")] = 2024,
    scale: Annotated[float, typer.Option(help="Multiplies the number of events.")] = 1.0,
) -> None:
    """Generates a realistic synthetic university and ingests it, exactly as an installation would.

    Example:  [bold]vigie demo --people 2000 --days 60[/]
    """
    from vigie.demo.generator import generate
    from vigie.web.accounts import write_account

    def action() -> None:
        with console.status("Generating the demo university…"):
            config_path = generate(directory, seed=seed, people=people, days=days,
                                   events_scale=scale)
        cfg = load_config(config_path)
        secret_file = cfg.path(cfg.vigie.secret_file or "secret")
        if not secret_file.exists():
            create_secret(secret_file)
        console.print(f"Demo university in [bold]{directory}[/]; configuration {config_path}")
        report = run_ingest(cfg)
        print_summary(cfg, report)
        accounts = directory / "accounts.json"
        if not accounts.exists():
            write_account(accounts, "demo", "demo", "admin")
        console.print(f"Try: [bold]vigie query -c {config_path} \"SELECT population, "
                      "count(DISTINCT user_pseudo) FROM events GROUP BY 1\"[/]")
        console.print(f"Dashboards: [bold]vigie serve -c {config_path}[/] then "
                      "http://127.0.0.1:8000 (demo account: demo / demo)")

    _run(action)


if __name__ == "__main__":  # pragma: no cover
    app()
