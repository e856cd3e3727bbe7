"""Statements into the analytics lake, pseudonymized with the spine's keyed pseudonyms.

Learning indicators read statements next to the SI: an account named `jdupont` in a Moodle
statement gets the very pseudonym `vigie ingest` gives the login `jdupont`, so it joins the
directory snapshots and the service events. Nothing identifying is copied: the actor becomes a
pseudonym, and only the statement's verb, object, course, result and times are kept.

Each tenant is exported incrementally from its `seq` cursor (kept in the lake's catalogue), one
lake transaction per batch; DuckDB cuts the statements' JSON, a batch at a time. Both backends
are read the same way: a tenant's `seq` is its commit order (one writer per tenant), so a
statement is never committed behind a cursor already passed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from vigie.config import Config
from vigie.errors import SourceError
from vigie.ingest.enrich import Lookup
from vigie.lrs.backend import connect_postgres
from vigie.lrs.tenants import TenantRegistry
from vigie.privacy.pseudonym import Pseudonymizer
from vigie.sources.compile import sql_str
from vigie.warehouse.lake import Lake

if TYPE_CHECKING:
    from vigie.lrs.postgres import PostgresDatabase

__all__ = ["STATEMENT_COLUMNS", "ExportReport", "export_statements"]

#: Paths read from each statement, in the order of the extracted list.
_PATHS = {
    "timestamp": "$.timestamp",
    "account_name": "$.actor.account.name",
    "mbox": "$.actor.mbox",
    "openid": "$.actor.openid",
    "mbox_sha1sum": "$.actor.mbox_sha1sum",
    "verb": "$.verb.id",
    "object_id": "$.object.id",
    "object_type": "$.object.objectType",
    "course": "$.context.contextActivities.parent[0].id",
    "registration": "$.context.registration",
    "platform": "$.context.platform",
    "success": "$.result.success",
    "completion": "$.result.completion",
    "score_scaled": "$.result.score.scaled",
    "duration": "$.result.duration",
}

#: The `statements` table of the lake (partitioned by tenant and month).
STATEMENT_COLUMNS = (
    "statement_id", "ts", "stored", "actor_pseudo", "verb", "object_id", "object_type",
    "course", "registration", "platform", "success", "completion", "score_scaled", "duration",
    "voids",
)

_BATCH = 100_000

#: Reads the statements of one tenant after a `seq`, at most `_BATCH`.
Reader = Callable[[int], pa.Table]


@dataclass
class ExportReport:
    """Statements exported per tenant in this run."""

    tenants: dict[str, int] = field(default_factory=dict)


def _identifier() -> str:
    """The login a statement's actor stands for: its account name, else its e-mail address."""
    return (
        "lower(trim(coalesce(_v[2], regexp_replace(_v[3], '^mailto:', ''), _v[4], _v[5])))"
    )


def _read_sqlite(database: Path, after: int) -> pa.Table:
    """The next statements of a tenant database, as columns.

    Read with the standard `sqlite3` module on purpose: it is the SQLite the LRS writes with,
    and two copies of SQLite in one process (such as the one inside an ADBC driver) break WAL
    locking and can corrupt a database the LRS has open.
    """
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT seq, id, stored, ref, is_voiding, body FROM statements "
                "WHERE seq > ? ORDER BY seq LIMIT ?", (after, _BATCH)).fetchall()
    except sqlite3.Error as exc:
        raise SourceError(f"LRS database {database}: cannot be read ({exc})") from exc
    return _columns(rows)


def _read_postgres(database: PostgresDatabase, prefix: str, after: int) -> pa.Table:
    """The next statements of a tenant's schema, as `_read_sqlite` gives them."""
    with database.connection() as connection:
        rows = connection.execute(
            "SELECT seq, id, to_char(stored AT TIME ZONE 'UTC', "
            """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ref, is_voiding::int, body """
            f"FROM {prefix}statements WHERE seq > %s ORDER BY seq LIMIT %s", [after, _BATCH],
        ).fetchall()
    return _columns(rows)


def _columns(rows: list[Any]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    return pa.table({
        "seq": pa.array(columns[0], pa.int64()), "id": pa.array(columns[1], pa.string()),
        "stored": pa.array(columns[2], pa.string()), "ref": pa.array(columns[3], pa.string()),
        "is_voiding": pa.array(columns[4], pa.int64()), "body": pa.array(columns[5], pa.string()),
    })


def _export_tenant(tenant: str, read: Reader, lake: Lake,
                   con: duckdb.DuckDBPyConnection, users: Lookup) -> int:
    cursor_name = f"lrs:{tenant}"
    found = lake.cursor(cursor_name)
    last, total = (int(found[0]), found[1]) if found else (0, 0)
    exported = 0
    paths = ", ".join(sql_str(p) for p in _PATHS.values())
    while True:
        batch = read(last)
        if batch.num_rows == 0:
            return exported
        con.register("_batch", batch)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _cut AS SELECT seq, id, stored, ref, is_voiding, "
            f"json_extract_string(body, [{paths}]) AS _v FROM _batch"
        ).fetchall()
        keys = con.sql(f"SELECT DISTINCT {_identifier()} AS k FROM _cut WHERE k IS NOT NULL")
        known, _ = users.match(keys.to_arrow_table().column("k"))
        con.register("dim_user", known)
        last = int(batch.column("seq")[-1].as_py())
        with lake.transaction() as tx:
            con.execute(f"""
CREATE OR REPLACE TEMP TABLE _rows AS
SELECT c.id AS statement_id,
  try_cast(c._v[1] AS TIMESTAMPTZ) AS ts,
  try_cast(c.stored AS TIMESTAMPTZ) AS stored,
  u.user_pseudo AS actor_pseudo,
  c._v[6] AS verb, c._v[7] AS object_id, coalesce(c._v[8], 'Activity') AS object_type,
  c._v[9] AS course, c._v[10] AS registration, c._v[11] AS platform,
  try_cast(c._v[12] AS BOOLEAN) AS success, try_cast(c._v[13] AS BOOLEAN) AS completion,
  try_cast(c._v[14] AS DOUBLE) AS score_scaled, c._v[15] AS duration,
  CASE WHEN c.is_voiding = 1 THEN c.ref END AS voids,
  strftime(coalesce(try_cast(c._v[1] AS TIMESTAMPTZ), try_cast(c.stored AS TIMESTAMPTZ)),
           '%Y-%m') AS month
FROM _cut c LEFT JOIN dim_user u ON u.user = {_identifier().replace('_v[', 'c._v[')}
""").fetchall()
            months = [m for (m,) in con.execute("SELECT DISTINCT month FROM _rows").fetchall()]
            for month in months:
                folder = tx.area("statements") / f"tenant={tenant}" / f"month={month}"
                folder.mkdir(parents=True, exist_ok=True)
                con.execute(
                    "COPY (SELECT * EXCLUDE (month) FROM _rows WHERE month = "
                    f"{sql_str(month)}) TO '{folder}/part-{tx.id}.parquet' "
                    "(FORMAT parquet, COMPRESSION zstd)"
                ).fetchall()
            total += batch.num_rows
            tx.cursors[cursor_name] = (str(last), total)
        exported += batch.num_rows


def _sqlite_readers(root: Path, tenants: list[str]) -> dict[str, Reader]:
    """Each tenant that has a statements file (none is created)."""
    files = {name: root / "statements" / f"{name}.sqlite" for name in tenants}
    return {name: partial(_read_sqlite, path) for name, path in files.items() if path.exists()}


def _postgres_readers(database: PostgresDatabase, tenants: list[str]) -> dict[str, Reader]:
    """Each tenant that has a schema with statements (none is created)."""
    from vigie.lrs.postgres import tenant_schema

    readers: dict[str, Reader] = {}
    with database.connection() as connection:
        for name in tenants:
            prefix = f'"{tenant_schema(name)}".'
            found = connection.execute(
                "SELECT to_regclass(%s) IS NOT NULL", [f"{prefix}statements"]
            ).fetchone()
            if found is not None and found[0]:
                readers[name] = partial(_read_postgres, database, prefix)
    return readers


def export_statements(
    config: Config, root: Path, *, secret: bytes, database: str | None = None,
    password: str | None = None,
) -> ExportReport:
    """Exports every tenant's new statements of the LRS at `root` (or in the PostgreSQL
    `database`) into the configured lake."""
    if database is None:
        registry = TenantRegistry(root)
        readers_of = partial(_sqlite_readers, root)
    else:
        from vigie.lrs.postgres import PostgresRegistryDatabase

        shared = connect_postgres(database, password)
        registry = TenantRegistry(PostgresRegistryDatabase(shared))
        readers_of = partial(_postgres_readers, shared)
    pseudonymizer = Pseudonymizer(secret)
    users = Lookup(pseudonymizer.table)
    report = ExportReport()
    lake = Lake(config.lake_path)
    con = duckdb.connect()
    try:
        tenants = [str(tenant["name"]) for tenant in registry.tenants()]
        for name, read in readers_of(tenants).items():
            report.tenants[name] = _export_tenant(name, read, lake, con, users)
    finally:
        lake.close()
        registry.close()
    return report
