"""A real PostgreSQL server for the tests (Moodle reader, LRS backend), one per session.

Needs Debian's `postgresql` package (`apt-get install postgresql`); the `postgres` fixture
(tests/conftest.py) skips only when no `/usr/lib/postgresql/*/bin/initdb` exists. The server
gets a temporary data directory, a free port on 127.0.0.1, no Unix socket, `fsync=off` and
password (SCRAM) authentication, so the tests also check that the password reaches libpq.
`initdb` and `postgres` refuse to run as root: under root, the data directory is given to the
`postgres` account the Debian package creates and both run through `runuser -u postgres --`.
The server is stopped at session end.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "moodle pass/with:odd@chars"
USER = "vigie"
_NAMES = itertools.count()


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

    def with_database(self, name: str) -> Postgres:
        """The same server, `name` as database (created when missing)."""
        with self.connect("postgres") as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if found.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        return replace(self, database=name)

    @contextmanager
    def fresh_database(self, prefix: str = "t") -> Iterator[Postgres]:
        """A new empty database, dropped (connections closed) afterwards."""
        name = f"{prefix}_{os.getpid()}_{next(_NAMES)}"
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield replace(self, database=name)
        finally:
            with self.connect("postgres") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """Starts a server (database `postgres`), stops it and removes its files at the end."""
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
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
              "-w", "-t", "60", "start"], as_user)
        started = True
        yield Postgres("127.0.0.1", port, USER, PASSWORD, "postgres")
    except RuntimeError:
        if log.exists():
            print(log.read_text(errors="replace"))
        raise
    finally:
        if started:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], as_user)
        shutil.rmtree(workdir, ignore_errors=True)
