"""Several server processes on one store (`vigie lrs serve --workers 2`), on both backends:
what a client sees must not depend on which process answers.

Each request below opens its own connection, so consecutive requests land on either worker;
the writers' own connections are spread over both. Bounded in time and count, loopback only.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.lrs.conftest import BACKENDS
from tests.lrs.test_robustness import Server, credentials, descendants, storage_for
from vigie.lrs.loadgen import statement


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with storage_for(request.param, request, tmp_path_factory.mktemp("lrs-workers")) as storage:
        running = Server(storage, workers=2)
        running.start()
        yield running
        running.stop()


def fresh(method: str, url: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
    """One request on its own connection (any worker may take it)."""
    with httpx.Client(headers=headers, timeout=60) as http:
        return http.request(method, url, **kwargs)


def race(server: Server, headers: dict[str, str], contents: list[dict[str, Any]],
         ) -> tuple[list[tuple[int, int]], int]:
    """Twelve clients PUT one new id at once, client n with `contents[n % len(contents)]`:
    their (content, status) answers, and the content stored."""
    statement_id = str(uuid.uuid4())
    answers: list[tuple[int, int]] = []
    start = threading.Barrier(12)

    def put(n: int) -> None:
        body = {**contents[n % len(contents)], "id": statement_id}
        start.wait()
        response = fresh("PUT", f"{server.base}/statements", headers,
                         params={"statementId": statement_id}, json=body)
        answers.append((n % len(contents), response.status_code))

    threads = [threading.Thread(target=put, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = fresh("GET", f"{server.base}/statements", headers,
                   params={"statementId": statement_id}).json()
    return answers, next(n for n, content in enumerate(contents)
                         if content["actor"] == stored["actor"])


def test_racing_writes_of_one_id_store_it_once(server: Server) -> None:
    """Twelve clients PUT the same id at once, half with one content, half with another: one
    content wins everywhere, its senders get 204, the others 409; the same content sent by
    every client is stored once, and every client gets 204."""
    headers = credentials(server.storage, "race")
    for contents in ([statement(1), statement(2)], [statement(3)]):
        answers, winner = race(server, headers, contents)
        expected = [(n % len(contents), 204 if n % len(contents) == winner else 409)
                    for n in range(12)]
        assert sorted(answers) == sorted(expected)


def test_pages_and_consistency_hold_while_both_workers_write(server: Server) -> None:
    """While eight clients write through both workers, a reader walks `more` pages (each page
    on a new connection): no statement twice, newest first, and every statement stored by the
    time a page's `X-Experience-API-Consistent-Through` gives is in the walk, although the
    other process may have been committing some of them when the first page was read."""
    headers = credentials(server.storage, "pages")
    stop = threading.Event()
    errors: list[str] = []

    def write(seed: int) -> None:
        with httpx.Client(headers=headers, timeout=60) as http:
            n = 0
            while not stop.is_set():
                batch = [statement(seed * 10_000 + n * 10 + k) for k in range(5)]
                response = http.post(f"{server.base}/statements", json=batch)
                if response.status_code != 200:
                    errors.append(response.text)
                n += 1

    writers = [threading.Thread(target=write, args=(seed,)) for seed in range(8)]
    for writer in writers:
        writer.start()
    try:
        time.sleep(0.5)
        first = fresh("GET", f"{server.base}/statements", headers, params={"limit": 40})
        through = first.headers["X-Experience-API-Consistent-Through"]
        walked = first.json()["statements"]
        more = first.json()["more"]
        origin = server.base.removesuffix("/xAPI")
        continued: set[str] = set()
        while more:
            page = fresh("GET", f"{origin}{more}", headers)
            continued.add(page.headers["X-Experience-API-Consistent-Through"])
            walked += page.json()["statements"]
            more = page.json()["more"]
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=60)
    assert errors == [], server.log()[-20_000:]  # the server's traceback, if any
    ids = [st["id"] for st in walked]
    assert len(ids) == len(set(ids)) and len(ids) > 20
    stored = [st["stored"] for st in walked]
    assert stored == sorted(stored, reverse=True)
    assert len(continued) == 1  # the pages of one walk share their bound, and its time
    everything = all_statements(server.base, headers)
    for promised in (through, *continued):
        assert {st["id"] for st in everything if st["stored"] <= promised} <= set(ids)
    ascending = [st["stored"] for st in everything]
    assert ascending == sorted(ascending) and len(set(ascending)) == len(ascending)


def all_statements(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every statement of the tenant, oldest first, through `more` pages."""
    found: list[dict[str, Any]] = []
    page = fresh("GET", f"{base}/statements", headers,
                 params={"limit": 500, "ascending": "true"}).json()
    while True:
        found += page["statements"]
        if not page["more"]:
            return found
        page = fresh("GET", f"{base.removesuffix('/xAPI')}{page['more']}", headers).json()


def test_the_server_runs_two_workers(server: Server) -> None:
    """Two worker processes (uvicorn spawns them) besides the supervisor."""
    assert server.process is not None
    workers = [pid for pid in descendants(server.process.pid)
               if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
    assert len(workers) == 2
