"""A real PostgreSQL server for the Moodle reader's tests, with Moodle's own table definitions.

Needs Debian's ``postgresql`` package (``apt-get install postgresql``); the fixture skips only
when no ``/usr/lib/postgresql/*/bin/initdb`` exists. The server gets a temporary data directory,
a free port on 127.0.0.1, no Unix socket, ``fsync=off`` and password (SCRAM) authentication, so
the tests also check that the password reaches libpq. ``initdb`` and ``postgres`` refuse to run as
root: under root, the data directory is given to the ``postgres`` account the Debian package
creates and both run through ``runuser -u postgres --``. The server is stopped at session end.

The tables follow Moodle's install.xml as Moodle's PostgreSQL generator writes them
(int(10) -> BIGINT, int(1) -> SMALLINT, char(n) -> VARCHAR(n), text -> TEXT, the sequence as
BIGSERIAL), with the logstore's indexes; `mdl_user` keeps the columns around `username`.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "moodle pass/with:odd@chars"
USER = "vigie"
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


@dataclass(frozen=True)
class Postgres:
    """A running test server: connection details and a psycopg connection factory."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def uri(self) -> str:
        """The URI without password (as a vigie config writes it)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self, database: str | None = None) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname=database or self.database, autocommit=True,
        )


def _bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path: str) -> tuple[int, ...]:
        m = re.search(r"/postgresql/([0-9.]+)/", path)
        return tuple(int(x) for x in m.group(1).split(".")) if m else (0,)

    return Path(max(found, key=version)).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(cmd: list[str], as_user: list[str]) -> None:
    done = subprocess.run(
        [*as_user, *cmd], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {done.stderr}{done.stdout}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server with an empty `moodle` database, for the whole session."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server is not installed (apt-get install postgresql)")
    # Not under pytest's tmp dir: that one is 0700 root-owned, the postgres account could not
    # enter it.
    workdir = Path(tempfile.mkdtemp(prefix="vigie-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(workdir, ignore_errors=True)
            raise RuntimeError(
                "running as root needs the 'postgres' account to start PostgreSQL "
                "(Debian's postgresql package creates it)"
            ) from None
        os.chown(workdir, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, pwfile = workdir / "data", workdir / "server.log", workdir / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_user:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    port = _free_port()
    started = False
    try:
        _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(pwfile),
             "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
            as_user,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
              "-w", "-t", "60", "start"], as_user)
        started = True
        server = Postgres("127.0.0.1", port, USER, PASSWORD, DATABASE)
        with server.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        yield server
    except RuntimeError:
        if log.exists():
            print(log.read_text(errors="replace"))
        raise
    finally:
        if started:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], as_user)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def moodle_db(postgres: Postgres) -> Iterator[Postgres]:
    """Empty Moodle tables `mdl_logstore_standard_log` and `mdl_user`, dropped after the test."""
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
