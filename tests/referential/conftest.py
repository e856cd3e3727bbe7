"""Fixtures of the referential tests, including a real OpenLDAP slapd on loopback.

The slapd fixture needs Debian's ``slapd`` package (``apt-get install slapd ldap-utils``);
it skips only when /usr/sbin/slapd is absent. The server gets a temporary directory, a free
port on 127.0.0.1, the minimal SUPANN test schema and the fixture LDIF (loaded with slapadd
before start), and is stopped at the end of the session.

Its global size limit is 4 entries for anonymous and ordinary users (the rootdn is never
limited), so a search for the 10 people only succeeds when it is paged.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
BASE_DN = "dc=univ,dc=test"
READER_DN = f"cn=reader,{BASE_DN}"
READER_PASSWORD = "reader-secret"
SIZE_LIMIT = 4
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class Slapd:
    """Where the test server listens and who may bind."""

    url: str
    base_dn: str
    reader_dn: str
    reader_password: str
    size_limit: int


@pytest.fixture(scope="session")
def fixture_ldif() -> Path:
    return FIXTURES / "univ-test.ldif"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(workdir: Path) -> str:
    return f"""\
include {SCHEMA_DIR}/core.schema
include {SCHEMA_DIR}/cosine.schema
include {SCHEMA_DIR}/inetorgperson.schema
include {FIXTURES / "supann-min.schema"}
pidfile {workdir / "slapd.pid"}
argsfile {workdir / "slapd.args"}
modulepath {MODULE_DIR}
moduleload back_mdb
sizelimit size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited

database mdb
suffix "{BASE_DN}"
rootdn "cn=admin,{BASE_DN}"
rootpw admin-secret
directory {workdir / "db"}
maxsize 10485760
access to attrs=userPassword by anonymous auth by * none
access to * by * read
"""


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"slapd did not listen on port {port} within {START_TIMEOUT}s")


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory, fixture_ldif: Path) -> Iterator[Slapd]:
    """A running slapd loaded with the fixture directory."""
    if not SLAPD.exists() or not SLAPADD.exists():
        pytest.skip("OpenLDAP slapd is not installed (apt-get install slapd ldap-utils)")
    workdir = tmp_path_factory.mktemp("slapd")
    (workdir / "db").mkdir()
    config = workdir / "slapd.conf"
    config.write_text(_config(workdir))
    loaded = subprocess.run(
        [str(SLAPADD), "-f", str(config), "-l", str(fixture_ldif)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if loaded.returncode != 0:
        raise RuntimeError(f"slapadd failed: {loaded.stderr}")
    port = _free_port()
    log = workdir / "slapd.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(SLAPD), "-f", str(config), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, log)
        yield Slapd(
            url=f"ldap://127.0.0.1:{port}",
            base_dn=BASE_DN,
            reader_dn=READER_DN,
            reader_password=READER_PASSWORD,
            size_limit=SIZE_LIMIT,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(workdir / "db", ignore_errors=True)
