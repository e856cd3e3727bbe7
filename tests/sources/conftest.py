"""Moodle's own table definitions in the session's PostgreSQL server (`tests/postgres.py`).

The tables follow Moodle's install.xml as Moodle's PostgreSQL generator writes them
(int(10) -> BIGINT, int(1) -> SMALLINT, char(n) -> VARCHAR(n), text -> TEXT, the sequence as
BIGSERIAL), with the logstore's indexes; `mdl_user` keeps the columns around `username`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.postgres import Postgres

__all__ = ["LOGSTORE_DDL", "LOG_COPY_COLUMNS", "Postgres", "copy_log_rows", "copy_users"]

DATABASE = "moodle"

LOGSTORE_DDL = """
CREATE TABLE {p}logstore_standard_log (
    id BIGSERIAL PRIMARY KEY,
    eventname VARCHAR(255) NOT NULL DEFAULT '',
    component VARCHAR(100) NOT NULL DEFAULT '',
    action VARCHAR(100) NOT NULL DEFAULT '',
    target VARCHAR(100) NOT NULL DEFAULT '',
    objecttable VARCHAR(50),
    objectid BIGINT,
    crud VARCHAR(1) NOT NULL DEFAULT '',
    edulevel SMALLINT NOT NULL,
    contextid BIGINT NOT NULL,
    contextlevel BIGINT NOT NULL,
    contextinstanceid BIGINT NOT NULL,
    userid BIGINT NOT NULL,
    courseid BIGINT,
    relateduserid BIGINT,
    anonymous SMALLINT NOT NULL DEFAULT 0,
    other TEXT,
    timecreated BIGINT NOT NULL,
    origin VARCHAR(10),
    ip VARCHAR(45),
    realuserid BIGINT
);
CREATE INDEX {p}logsstanlog_tim_ix ON {p}logstore_standard_log (timecreated);
CREATE INDEX {p}logsstanlog_concom_ix ON {p}logstore_standard_log (contextid, component);
CREATE INDEX {p}logsstanlog_useconlev_ix
    ON {p}logstore_standard_log (userid, contextlevel, contextinstanceid, crud, edulevel,
                                 timecreated);
CREATE INDEX {p}logsstanlog_con_ix ON {p}logstore_standard_log (contextinstanceid);
CREATE TABLE {p}user (
    id BIGSERIAL PRIMARY KEY,
    auth VARCHAR(20) NOT NULL DEFAULT 'manual',
    confirmed SMALLINT NOT NULL DEFAULT 0,
    policyagreed SMALLINT NOT NULL DEFAULT 0,
    deleted SMALLINT NOT NULL DEFAULT 0,
    suspended SMALLINT NOT NULL DEFAULT 0,
    mnethostid BIGINT NOT NULL DEFAULT 0,
    username VARCHAR(100) NOT NULL DEFAULT '',
    password VARCHAR(255) NOT NULL DEFAULT '',
    idnumber VARCHAR(255) NOT NULL DEFAULT '',
    firstname VARCHAR(100) NOT NULL DEFAULT '',
    lastname VARCHAR(100) NOT NULL DEFAULT '',
    email VARCHAR(100) NOT NULL DEFAULT '',
    timecreated BIGINT NOT NULL DEFAULT 0,
    timemodified BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX {p}user_mneuse_uix ON {p}user (mnethostid, username);
"""

#: Columns written by `copy_log_rows`, in this order.
LOG_COPY_COLUMNS = (
    "id", "eventname", "component", "action", "target", "objecttable", "objectid", "crud",
    "edulevel", "contextid", "contextlevel", "contextinstanceid", "userid", "courseid",
    "relateduserid", "anonymous", "other", "timecreated", "origin", "ip", "realuserid",
)


@pytest.fixture
def moodle_db(postgres: Postgres) -> Iterator[Postgres]:
    """Empty Moodle tables `mdl_logstore_standard_log` and `mdl_user` in the `moodle` database,
    dropped after the test."""
    postgres = postgres.with_database(DATABASE)
    with postgres.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS mdl_logstore_standard_log, mdl_user")
        conn.execute(LOGSTORE_DDL.format(p="mdl_"))
    yield postgres
    with postgres.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS mdl_logstore_standard_log, mdl_user")


def copy_log_rows(server: Postgres, rows: list[tuple[Any, ...]], table: str) -> None:
    """Inserts log rows (tuples in `LOG_COPY_COLUMNS` order) with COPY, and moves the id
    sequence past them, as Moodle's inserts would have."""
    with server.connect() as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(LOG_COPY_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")


def copy_users(server: Postgres, users: list[tuple[int, str, int]], table: str) -> None:
    """Inserts (id, username, deleted) rows into a Moodle user table with COPY."""
    columns = "id, username, deleted, mnethostid"
    with (
        server.connect() as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for uid, name, deleted in users:
            copy.write_row((uid, name, deleted, 1))
