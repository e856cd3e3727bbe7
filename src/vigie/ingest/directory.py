"""Dated, pseudonymous snapshots of the directory, and the as-of table events are joined with.

Each `vigie ingest` loads the directory (LDAP or LDIF) and keeps it as the snapshot of that day
(`lake/directory/snapshot_date=…`), with pseudonyms in place of logins. An event is enriched with
the snapshot valid on its date; events older than the first snapshot get the first one (the
directory as first known), which is what a new installation backfilling its logs needs. The
snapshots also give the population of each day, the denominator of every adoption rate.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from vigie.config import Config, password_from_env
from vigie.privacy.pseudonym import Pseudonymizer
from vigie.referential.directory import Directory, load_ldap, load_ldif
from vigie.warehouse.lake import Lake

__all__ = ["PEOPLE_COLUMNS", "load_people", "read_snapshot", "write_snapshot"]

PEOPLE_COLUMNS = (
    "user_pseudo", "population", "affiliations", "structure", "structure_label",
    "structure_parent", "etape", "diplome", "cursus_year",
)


def read_directory(config: Config) -> Directory:
    """Loads the configured directory (LDIF file or LDAP server)."""
    settings = config.directory
    assert settings is not None
    attributes = settings.attributes or None
    if settings.ldif is not None:
        return load_ldif(config.path(settings.ldif), attributes=attributes)
    ldap = settings.ldap
    assert ldap is not None
    password = password_from_env(ldap.password_env, key="directory.ldap.password_env")
    return load_ldap(
        ldap.url,
        bind_dn=ldap.bind_dn,
        password=password,
        people_base=ldap.people_base,
        people_filter=ldap.people_filter,
        structures_base=ldap.structures_base,
        page_size=ldap.page_size,
        attributes=attributes,
    )


def read_snapshot(config: Config, pseudonymizer: Pseudonymizer) -> tuple[pa.Table, pa.Table]:
    """Today's people (`read_directory`) and their pseudonyms: the slow part of a snapshot
    (seconds for a large LDIF), which reads nothing of the lake and can run while the first
    chunks of logs are parsed."""
    people = read_directory(config).people
    return people, pseudonymizer.table(people.column("uid").combine_chunks())


def write_snapshot(
    config: Config, lake: Lake, con: duckdb.DuckDBPyConnection,
    read: tuple[pa.Table, pa.Table], *, on: date,
) -> int:
    """Stores the directory `read_snapshot` gave as the pseudonymous snapshot of day `on`
    (replacing one of the same day); returns its number of people."""
    people, pseudo = read
    labels = config.directory.structure_labels if config.directory else {}
    con.register("_people_raw", people)
    con.register("_people_pseudo", pseudo)
    con.register("_labels", pa.table({"code": pa.array(list(labels), pa.string()),
                                      "label": pa.array(list(labels.values()), pa.string())}))
    columns = ", ".join(
        "coalesce(l.label, r.structure_label) AS structure_label" if c == "structure_label"
        else f"r.{c}" for c in PEOPLE_COLUMNS[1:]
    )
    with lake.transaction() as tx:
        folder = f"snapshot_date={on.isoformat()}"
        tx.drop(f"directory/{folder}")
        target = tx.area("directory") / folder
        target.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT p.user_pseudo, {columns} FROM _people_raw r "
            "JOIN _people_pseudo p ON p.user = r.uid "
            "LEFT JOIN _labels l ON l.code = r.structure ORDER BY p.user_pseudo) "
            f"TO '{target}/part-{tx.id}.parquet' (FORMAT parquet, COMPRESSION zstd)"
        )
    for name in ("_people_raw", "_people_pseudo", "_labels"):
        con.unregister(name)
    return int(people.num_rows)


def load_people(lake: Lake, con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every snapshot of the lake, with the date from which it is valid (`valid_from`)."""
    files = sorted(lake.table("directory").glob("snapshot_date=*/*.parquet"))
    if not files:
        return pa.table(
            {"user_pseudo": pa.array([], pa.string()), "valid_from": pa.array([], pa.date32())}
            | {c: pa.array([], pa.string()) for c in PEOPLE_COLUMNS[1:] if c != "affiliations"}
            | {"affiliations": pa.array([], pa.list_(pa.string()))}
        )
    return con.sql(
        "SELECT * EXCLUDE (snapshot_date), "
        "CASE WHEN snapshot_date = min(snapshot_date) OVER () THEN DATE '0001-01-01' "
        "ELSE snapshot_date END AS valid_from "
        f"FROM read_parquet({[str(f) for f in files]}, hive_partitioning = true, "
        "hive_types = {'snapshot_date': DATE})"
    ).to_arrow_table()
