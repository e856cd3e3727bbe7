"""The LRS under load, crash and hostile input, against a real `vigie lrs serve` on loopback.

What the LRS issue asks: 100 concurrent clients, no error and no statement lost; after
`kill -9`, every statement the server acknowledged is there; malformed JSON, wrong content
types, oversized bodies and bad multipart get 400/413 with a clear message, never a 500.

Everything is bounded (time and count) and goes to 127.0.0.1 only; servers are stopped by PID.
The long version of the load scenario is `bench/lrs_soak.py`. Each scenario runs on both
backends: the embedded SQLite store and PostgreSQL (a fresh database of the session's server),
against a server of two worker processes (`--workers 2`), so that concurrent writes, `more`
pages and conflicts are checked across processes as well as within one (each worker commits
its own concurrent requests together); `kill -9` kills the supervisor and its workers at once.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.lrs.conftest import BACKENDS, LrsBackend
from tests.postgres import Postgres
from vigie.lrs.loadgen import Load, all_ids, client_loop, statement, wait_until_up

VERSION = {"X-Experience-API-Version": "1.0.3"}
MAX_BODY_MB = 1
WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A `vigie lrs serve` subprocess on a free loopback port, over `storage`."""

    storage: LrsBackend
    workers: int = WORKERS
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI"

    @property
    def root(self) -> Path:
        return self.storage.root

    def start(self) -> None:
        log = (self.root / f"server-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vigie.cli", "lrs", "serve", *self.storage.cli(),
             "--port", str(self.port), "--max-body-mb", str(MAX_BODY_MB),
             "--workers", str(self.workers)],
            stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **self.storage.env()},
        )
        log.close()
        if not wait_until_up(self.base, self.process, 20):
            raise AssertionError(f"the server did not start:\n{self.log()}")

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.root.glob("server-*.log"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def kill9(self) -> None:
        """SIGKILL to the server and its worker processes at once, as a power cut would."""
        assert self.process is not None
        family = [self.process.pid, *descendants(self.process.pid)]
        for pid in family:
            os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in family[1:]):
            assert time.monotonic() < deadline, "a killed worker is still there"
            time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    """The processes started by `pid`, and theirs (Linux `/proc`)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def credentials(storage: LrsBackend, tenant: str) -> dict[str, str]:
    """A tenant with an `all` credential; scrypt kept cheap (the cost is read from the hash)."""
    registry = storage.registry()
    try:
        registry.add_tenant(tenant)
        new = registry.add_credential(tenant, scopes=("all",), label=f"robustness-{tenant}")
    finally:
        registry.close()
    token = base64.b64encode(f"{new.key}:{new.secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", **VERSION}


@contextmanager
def storage_for(
    name: str, request: pytest.FixtureRequest, root: Path
) -> Iterator[LrsBackend]:
    """`root` itself, or a fresh database of the session's PostgreSQL server."""
    if name == "sqlite":
        yield LrsBackend(name, root)
        return
    postgres: Postgres = request.getfixturevalue("postgres")
    with postgres.fresh_database("robust") as fresh:
        yield LrsBackend(name, root, fresh)


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with storage_for(request.param, request, tmp_path_factory.mktemp("lrs-robust")) as storage:
        running = Server(storage)
        running.start()
        yield running
        running.stop()


@pytest.fixture(scope="module")
def probe(server: Server) -> dict[str, str]:
    """Headers of a tenant used only by the malformed-input tests."""
    return credentials(server.storage, "probe")


# -- 100 concurrent clients ------------------------------------------------------------------


def test_100_concurrent_clients_no_error_no_loss_no_duplicate(server: Server) -> None:
    headers = credentials(server.storage, "load")
    load = Load()
    deadline = time.monotonic() + 15
    threads = [
        threading.Thread(target=client_loop, args=(server.base, headers, load),
                         kwargs={"seed": seed, "deadline": deadline, "max_requests": 150})
        for seed in range(100)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert load.errors == [], load.errors[:5]
    assert load.requests >= 100 and len(load.acked) >= 500
    stored = all_ids(server.base, headers)
    assert [i for i, count in Counter(stored).items() if count > 1] == []
    assert sorted(stored) == sorted(load.acked)
    assert "Traceback" not in server.log()


# -- kill -9 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_kill_9_keeps_every_acknowledged_statement(
    backend_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with storage_for(backend_name, request, tmp_path) as storage:
        kill_9_scenario(Server(storage))


def kill_9_scenario(server: Server) -> None:
    headers = credentials(server.storage, "crash")
    server.start()
    load = Load()
    stop = threading.Event()
    writers = [
        threading.Thread(target=client_loop, args=(server.base, headers, load),
                         kwargs={"seed": seed, "deadline": time.monotonic() + 30,
                                 "max_requests": 100_000, "stop": stop})
        for seed in range(8)
    ]
    try:
        for writer in writers:
            writer.start()
        time.sleep(random.Random(20261122).uniform(1.0, 3.0))
        server.kill9()
        stop.set()
        for writer in writers:
            writer.join(timeout=60)
        assert not any(writer.is_alive() for writer in writers)
        assert len(load.acked) > 50, "the writers acknowledged too little before the kill"
        if server.storage.server is None:  # SQLite replays or discards the WAL
            with sqlite3.connect(server.root / "statements" / "crash.sqlite") as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        server.start()
        missing: list[str] = []
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as http:
            for statement_id in load.acked:
                got = http.get("/statements", params={"statementId": statement_id})
                if got.status_code != 200 or got.json()["id"] != statement_id:
                    missing.append(f"{statement_id}: {got.status_code}")
        assert missing == []
        stored = all_ids(server.base, headers)
        assert len(stored) == len(set(stored)) and set(load.acked) <= set(stored)
        # and it still writes
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as http:
            assert http.post("/statements", json=statement(1)).status_code == 200
    finally:
        stop.set()
        server.stop()


# -- malformed input: never a 500 ------------------------------------------------------------

VALID = statement(7)
GOOD_JSON = json.dumps({k: v for k, v in VALID.items() if k != "id"}).encode()
BOUNDARY = "xapi-boundary"
MULTIPART = f"multipart/mixed; boundary={BOUNDARY}"
SHA = "a" * 64


def multipart(*parts: bytes, close: bool = True) -> bytes:
    body = b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return body + (b"--" + BOUNDARY.encode() + b"--\r\n" if close else b"")


def json_part(document: bytes = GOOD_JSON) -> bytes:
    return b"Content-Type: application/json\r\n\r\n" + document


def with_score(raw: str) -> bytes:
    return GOOD_JSON[:-1] + b', "result": {"score": {"raw": ' + raw.encode() + b"}}}"


def token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


S = "/statements"
J = {"Content-Type": "application/json"}
# (name, method, path, extra headers, body, expected status)
CASES: list[tuple[str, str, str, dict[str, str], bytes | None, int]] = [
    ("invalid JSON", "POST", S, J, b'{"actor": ', 400),
    ("truncated JSON", "POST", S, J, GOOD_JSON[:-7], 400),
    ("not JSON at all", "POST", S, J, b"hello", 400),
    ("empty body", "POST", S, J, b"", 400),
    ("array of non-objects", "POST", S, J, b'[1, "two", null, []]', 400),
    ("empty array item", "POST", S, J, b"[{}]", 400),
    ("JSON scalar", "POST", S, J, b"42", 400),
    ("invalid UTF-8", "POST", S, J, b'{"actor": "\xff\xfe\xfd"}', 400),
    ("lone surrogate escape", "POST", S, J, GOOD_JSON[:-1] + b', "x": "\\ud800"}', 400),
    ("deep nesting (array)", "POST", S, J, b"[" * 100_000 + b"]" * 100_000, 400),
    ("deep nesting (extension)", "POST", S, J,
     GOOD_JSON[:-1] + b', "context": {"extensions": {"http://x.example/e": '
     + b"[" * 5000 + b"]" * 5000 + b"}}}", 400),
    ("huge integer", "POST", S, J, with_score("9" * 5000), 400),
    ("overflowing number", "POST", S, J, with_score("1e999"), 400),
    ("NaN", "POST", S, J, with_score("NaN"), 400),
    ("Infinity", "POST", S, J, with_score("-Infinity"), 400),
    ("text/plain", "POST", S, {"Content-Type": "text/plain"}, GOOD_JSON, 400),
    ("no Content-Type (taken as JSON)", "POST", S, {"Content-Type": ""}, GOOD_JSON, 200),
    ("application/xml", "POST", S, {"Content-Type": "application/xml"}, b"<a/>", 400),
    ("form without method", "POST", S, {"Content-Type": "application/x-www-form-urlencoded"},
     b"a=b", 400),
    ("timestamp beyond year 9999 in UTC", "POST", S, J,
     GOOD_JSON[:-1] + b', "timestamp": "9999-12-31T23:59:59-14:00"}', 400),
    ("timestamp before year 1 in UTC", "POST", S, J,
     GOOD_JSON[:-1] + b', "timestamp": "0001-01-01T00:00:00+14:00"}', 400),
    ("body over the limit", "POST", S, J, b" " * ((MAX_BODY_MB << 20) + 1), 413),
    ("multipart without boundary", "POST", S, {"Content-Type": "multipart/mixed"},
     multipart(json_part()), 400),
    ("multipart invalid boundary", "POST", S,
     {"Content-Type": 'multipart/mixed; boundary="a\tb"'}, multipart(json_part()), 400),
    ("multipart wrong boundary", "POST", S, {"Content-Type": "multipart/mixed; boundary=zz"},
     multipart(json_part()), 400),
    ("multipart unterminated", "POST", S, {"Content-Type": MULTIPART},
     multipart(json_part(), close=False), 400),
    ("multipart no part", "POST", S, {"Content-Type": MULTIPART},
     b"--" + BOUNDARY.encode() + b"--\r\n", 400),
    ("multipart first part not JSON", "POST", S, {"Content-Type": MULTIPART},
     multipart(b"Content-Type: text/plain\r\n\r\n" + GOOD_JSON), 400),
    ("multipart header without colon", "POST", S, {"Content-Type": MULTIPART},
     multipart(b"Content-Type application/json\r\n\r\n" + GOOD_JSON), 400),
    ("multipart header not text", "POST", S, {"Content-Type": MULTIPART},
     multipart(b"\xff\xfe: x\r\n\r\n" + GOOD_JSON), 400),
    ("multipart no blank line", "POST", S, {"Content-Type": MULTIPART},
     multipart(b"Content-Type: application/json"), 400),
    ("multipart part without hash", "POST", S, {"Content-Type": MULTIPART},
     multipart(json_part(), b"Content-Type: text/plain\r\n\r\nhello"), 400),
    ("multipart hash not hex", "POST", S, {"Content-Type": MULTIPART},
     multipart(json_part(), b"X-Experience-API-Hash: zz\r\n\r\nhello"), 400),
    ("multipart hash wrong length", "POST", S, {"Content-Type": MULTIPART},
     multipart(json_part(), b"X-Experience-API-Hash: abcd\r\n\r\nhello"), 400),
    ("multipart hash mismatch", "POST", S, {"Content-Type": MULTIPART},
     multipart(json_part(), f"X-Experience-API-Hash: {SHA}\r\n\r\nhello".encode()), 400),
    ("multipart base64 part", "POST", S, {"Content-Type": MULTIPART},
     multipart(json_part(), f"X-Experience-API-Hash: {SHA}\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=".encode()), 400),
    ("multipart invalid JSON part", "POST", S, {"Content-Type": MULTIPART},
     multipart(json_part(b"{nope")), 400),
    ("PUT without statementId", "PUT", S, J, GOOD_JSON, 400),
    ("PUT with a bad statementId", "PUT", S + "?statementId=42", J, GOOD_JSON, 400),
    ("PUT of an array", "PUT", S + f"?statementId={uuid.uuid4()}", J,
     b"[" + GOOD_JSON + b"]", 400),
    ("DELETE statements", "DELETE", S, {}, None, 405),
    ("PATCH statements", "PATCH", S, J, GOOD_JSON, 405),
    ("POST about", "POST", "/about", J, b"{}", 405),
    ("unknown xAPI path", "GET", "/nothing-here", {}, None, 404),
    ("unknown root path", "GET", "/../../etc/passwd", {}, None, 404),
    ("limit not a number", "GET", S + "?limit=ten", {}, None, 400),
    ("limit negative", "GET", S + "?limit=-1", {}, None, 400),
    ("limit superscript digit", "GET", S + "?limit=%C2%B2", {}, None, 400),
    ("limit with 5000 digits", "GET", S + "?limit=" + "9" * 5000, {}, None, 200),
    ("ascending not a boolean", "GET", S + "?ascending=yes", {}, None, 400),
    ("since not a timestamp", "GET", S + "?since=yesterday", {}, None, 400),
    ("since beyond UTC range", "GET", S + "?since=" + quote("9999-12-31T23:59:59-14:00"),
     {}, None, 400),
    ("agent not JSON", "GET", S + "?agent=%7B", {}, None, 400),
    ("agent deeply nested", "GET", S + "?agent=" + "%5B" * 5000, {}, None, 400),
    ("verb not an IRI", "GET", S + "?verb=%FF%FE", {}, None, 400),
    ("format unknown", "GET", S + "?format=xml", {}, None, 400),
    ("statementId not a UUID", "GET", S + "?statementId=%00", {}, None, 400),
    ("unknown parameter", "GET", S + "?color=blue", {}, None, 400),
    ("more not base64", "GET", S + "?more=%FF%FF", {}, None, 400),
    ("more with a string limit", "GET", S + "?more=" + token({"limit": "x"}), {}, None, 400),
    ("more with a list cursor", "GET", S + "?more=" + token({"after": [1]}), {}, None, 400),
    ("more with an object bound", "GET", S + "?more=" + token({"bound": {"a": 1}}), {}, None,
     400),
    ("more with a huge cursor", "GET", S + "?more=" + token({"after": 10**30}), {}, None, 400),
    ("more with an unknown format", "GET", S + "?more=" + token({"format": "xml"}), {}, None,
     400),
    ("more with an unknown field", "GET", S + "?more=" + token({"color": 1}), {}, None, 400),
    ("no version header", "GET", S, {"X-Experience-API-Version": ""}, None, 400),
    ("version 2.5", "GET", S, {"X-Experience-API-Version": "2.5"}, None, 400),
    ("alternate syntax on GET", "GET", S + "?method=PUT", {}, None, 400),
    ("alternate syntax, unknown method", "POST", S + "?method=BREW", J, b"", 400),
    ("state with a broken agent", "GET", "/activities/state?activityId=http://x.example/a"
     "&agent=%7B&stateId=s", {}, None, 400),
]


def check_error(response: httpx.Response, expected: int) -> None:
    assert response.status_code == expected, response.text[:300]
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["status"] == expected and body["error"] is True
        assert isinstance(body["message"], str) and len(body["message"]) > 5


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "expected"),
    [case[1:] for case in CASES], ids=[case[0] for case in CASES],
)
def test_malformed_request_gets_a_clear_4xx(
    server: Server, probe: dict[str, str], method: str, path: str, headers: dict[str, str],
    body: bytes | None, expected: int,
) -> None:
    sent = {**probe, **headers}
    sent = {name: value for name, value in sent.items() if value != ""}
    with httpx.Client(timeout=30) as http:
        response = http.request(method, server.base + path, headers=sent, content=body)
    check_error(response, expected)


def test_oversized_chunked_body_is_413(server: Server, probe: dict[str, str]) -> None:
    """No Content-Length: the limit is enforced while reading the stream."""

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY_MB * 16 + 1):
            yield b" " * 65536

    with httpx.Client(timeout=30) as http:
        response = http.post(f"{server.base}/statements", headers={**probe, **J},
                             content=chunks())
    check_error(response, 413)


@pytest.mark.parametrize("path", ["/statements", "/activities/state?activityId=http://x.example/a"
                                  "&stateId=s&agent=%7B%22mbox%22%3A%22mailto%3Aa%40b.example%22%7D"])
def test_client_hanging_up_mid_body_is_not_an_application_error(
    server: Server, probe: dict[str, str], path: str
) -> None:
    """A client gone before the end of its body was an unhandled `ClientDisconnect`: a traceback
    in the server's log for every mobile client losing its network. Nothing is stored, and the
    server goes on answering."""
    before = len(server.log())
    head = "".join(f"{name}: {value}\r\n" for name, value in {**probe, **J}.items())
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(f"POST /xAPI{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                    "Content-Length: 5000\r\n\r\n[{\"id\":".encode())
    with httpx.Client(timeout=30) as http:  # answered after the hang-up was handled
        assert http.get(f"{server.base}/about").status_code == 200
    time.sleep(0.2)
    assert "Traceback" not in server.log()[before:]


def test_non_finite_numbers_are_refused_not_stored(server: Server, probe: dict[str, str]) -> None:
    """1e999 parses as infinity; stored, it made every later GET answer invalid JSON."""
    with httpx.Client(base_url=server.base, headers={**probe, **J}, timeout=30) as http:
        refused = http.post("/statements", content=with_score("1e999"))
        assert refused.status_code == 400
        assert refused.json()["message"].startswith("result.score.raw: must be a finite number")
        listed = http.get("/statements", params={"limit": 500})
    assert listed.status_code == 200
    json.loads(listed.text, parse_constant=lambda name: pytest.fail(f"{name} in the answer"))


@pytest.mark.parametrize("authorization", [
    b"Basic \xe9\xe9", b"Basic " + base64.b64encode(b"\xff:\xfe"), b"Basic " + b"A" * 8000,
    b"Basic", b"Bearer", b"Bearer \xe9", b"Bearer a.b.c", b"Bearer " + b"x" * 8000 + b".e30.",
    b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", b"Digest x",
])
def test_broken_authorization_is_401(server: Server, authorization: bytes) -> None:
    """Non-ASCII Basic credentials were a 500 (base64 raises ValueError on non-ASCII str)."""
    with httpx.Client(timeout=30) as http:
        response = http.get(f"{server.base}/statements",
                            headers={b"X-Experience-API-Version": b"1.0.3",
                                     b"Authorization": authorization})
    check_error(response, 401)


def test_deeply_nested_json_document_is_not_a_500(server: Server, probe: dict[str, str]) -> None:
    with httpx.Client(timeout=30) as http:
        response = http.put(
            f"{server.base}/activities/state",
            params={"activityId": "http://x.example/a", "stateId": "deep",
                    "agent": '{"mbox": "mailto:a@unicaen.example"}'},
            headers={**probe, **J}, content=b"[" * 100_000 + b"]" * 100_000,
        )
    check_error(response, 400)


def test_fuzzed_requests_never_get_a_500(server: Server, probe: dict[str, str]) -> None:
    """Seeded random bodies, mutations of a valid statement and random query strings."""
    rng = random.Random(4_2026)
    valid = json.dumps(VALID).encode()
    types = ["application/json", MULTIPART, "multipart/mixed", "text/plain", "",
             "application/json; charset=latin-1", "application/x-www-form-urlencoded"]
    failures: list[str] = []
    with httpx.Client(base_url=server.base, timeout=30) as http:
        for n in range(300):
            kind = n % 4
            params: dict[str, str] = {}
            if kind == 0:
                body = rng.randbytes(rng.randint(0, 2000))
            elif kind == 1:
                mutated = bytearray(valid)
                for _ in range(rng.randint(1, 8)):
                    mutated[rng.randrange(len(mutated))] = rng.randrange(256)
                body = bytes(mutated[: rng.randint(1, len(mutated))])
            elif kind == 2:
                body = multipart(json_part(valid), rng.randbytes(rng.randint(0, 300)),
                                 close=rng.random() < 0.5)
            else:
                body = b""
                names = ["limit", "since", "until", "agent", "verb", "activity", "ascending",
                         "format", "statementId", "more", "registration", "attachments"]
                for name in rng.sample(names, rng.randint(1, 3)):
                    params[name] = rng.randbytes(rng.randint(0, 40)).decode("latin-1")
            content_type = rng.choice(types)
            headers = {**probe, **({"Content-Type": content_type} if content_type else {})}
            if kind == 3:
                response = http.get("/statements", params=params, headers=probe)
            else:
                response = http.post("/statements", headers=headers, content=body)
            if response.status_code >= 500 or (
                response.status_code >= 400
                and not response.headers.get("content-type", "").startswith("application/json")
            ):
                failures.append(f"{n}: {response.status_code} {response.text[:120]} <- "
                                f"{content_type!r} {params or body[:80]!r}")
    assert failures == []
