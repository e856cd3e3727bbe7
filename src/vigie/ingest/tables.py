"""Moodle's log table as a source: from its database (incremental) or from a CSV export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from vigie.config import password_from_env
from vigie.ingest.run import FileReport, SourceRun, known_state
from vigie.sources.compile import sql_str
from vigie.sources.moodle import read_logstore_csv, read_logstore_db
from vigie.sources.reader import fingerprint
from vigie.warehouse.lake import FileState, Lake

__all__ = ["ingest_database", "ingest_export"]


def ingest_database(run: SourceRun, lake: Lake, report: FileReport) -> None:
    """Moodle's log table, from the cursor of the previous run, one window per transaction."""
    settings = run.source.database
    assert settings is not None
    password = password_from_env(
        settings.password_env, key=f"sources ({run.source.name}).database.password_env")
    cursor = lake.cursor(run.source.name)
    position, total = cursor if cursor else ("0,0", 0)
    after = tuple(int(v) for v in position.split(","))
    for table, (seconds, row_id) in read_logstore_db(
        settings.uri, password=password, prefix=settings.prefix, after=(after[0], after[1]),
        batch_seconds=settings.batch_seconds,
    ):
        with lake.transaction() as tx:
            rows, bad = run.process(table, tx, origin=f"database of source {run.source.name}",
                                    reference=datetime.now(UTC))
            total += rows
            tx.cursors[run.source.name] = (f"{seconds},{row_id}", total)
        report.rows += rows
        report.quarantined += bad


#: Rows of a CSV export enriched at once (about a log chunk's worth).
EXPORT_SLICE_ROWS = 500_000


def ingest_export(run: SourceRun, lake: Lake, path: Path, report: FileReport,
                   base: Path) -> None:
    """A CSV export of Moodle's log table: read once (an export does not grow), by slices."""
    file = fingerprint(path)
    if not file.head or known_state(file, lake.known_files(run.source.name)):
        return
    users = run.source.users_csv
    rows_table, rejects = read_logstore_csv(
        path, users_csv=None if users is None else (base / users if not Path(users).is_absolute()
                                                    else Path(users)))
    with lake.transaction() as tx:
        rows = bad = 0
        # By slices, so that memory does not grow with the export beyond its rows themselves.
        for start in range(0, max(rows_table.num_rows, 1), EXPORT_SLICE_ROWS):
            added, rejected = run.process(
                rows_table.slice(start, EXPORT_SLICE_ROWS), tx, origin=str(path),
                reference=datetime.fromtimestamp(file.mtime, tz=UTC))
            rows, bad = rows + added, bad + rejected
        if rejects.num_rows:
            folder = tx.area("quarantine") / f"source={run.source.name}"
            folder.mkdir(parents=True, exist_ok=True)
            run.con.register("_rejects", rejects)
            run.con.execute(
                f"COPY (SELECT {sql_str(str(path))} AS file, line_no, 0::BIGINT AS byte_offset, "
                f"reason, {sql_str(run.spec.name)} AS format, current_timestamp AS "
                f"quarantined_at, NULL::DATE AS near_day FROM _rejects) TO '{folder / tx.part()}' "
                "(FORMAT parquet)"
            ).fetchall()
            run.con.unregister("_rejects")
            bad += rejects.num_rows
        size = path.stat().st_size
        tx.files.append(FileState(run.source.name, file.head_hash(), len(file.head), str(path),
                                  size, rows + bad, rows, bad))
    report.rows += rows
    report.quarantined += bad
