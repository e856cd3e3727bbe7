"""A load generator for an xAPI LRS: concurrent clients that know what was acknowledged.

Used by the soak benchmark (`bench/lrs_soak.py`) and the robustness tests, and usable against
any LRS: every statement carries its id, so after the run the ids read back can be compared
with the ids acknowledged (nothing lost, nothing doubled).
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Load", "all_ids", "client_loop", "statement", "wait_until_up"]


def statement(n: int, statement_id: str | None = None) -> dict[str, Any]:
    """A Moodle-like statement; learner, page and course vary with `n`."""
    return {
        "id": statement_id or str(uuid.uuid4()),
        "actor": {"objectType": "Agent",
                  "account": {"homePage": "https://moodle.univ-demo.fr", "name": f"u{n % 997}"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "saw"}},
        "object": {"id": f"https://moodle.univ-demo.fr/mod/page/view.php?id={n % 101}",
                   "definition": {"name": {"fr-FR": f"Page {n % 101}"}}},
        "context": {"contextActivities": {"parent": [
            {"id": f"https://moodle.univ-demo.fr/course/view.php?id={n % 13}"}]}},
        "result": {"score": {"raw": n % 20, "min": 0, "max": 20}},
    }


@dataclass
class Load:
    """What a load run saw: acknowledged ids, errors (non-2xx or transport), latencies."""

    acked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(base: str, headers: dict[str, str], load: Load, *, seed: int, deadline: float,
                max_requests: int, stop: threading.Event | None = None) -> None:
    """One client: batches (2 to 20), single POSTs, PUTs, and re-sends of acknowledged
    batches (idempotent: same ids back, nothing stored twice); keep-alive connection."""
    rng = random.Random(seed)
    sent: list[list[dict[str, Any]]] = []
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        for n in range(max_requests):
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                return
            roll = rng.random()
            resend = roll < 0.05 and bool(sent)
            if resend:
                batch = rng.choice(sent)
            elif roll < 0.45:
                batch = [statement(seed * 100_000 + n * 20 + k)
                         for k in range(rng.randint(2, 20))]
            else:
                batch = [statement(seed * 100_000 + n * 20)]
            put = not resend and len(batch) == 1 and roll > 0.85
            began = time.perf_counter()
            try:
                if put:
                    response = http.put("/statements", params={"statementId": batch[0]["id"]},
                                        json=batch[0])
                else:
                    response = http.post("/statements", json=batch)
            except httpx.TransportError as exc:
                with load.lock:
                    load.errors.append(f"{type(exc).__name__}: {exc}")
                return
            elapsed = time.perf_counter() - began
            ok = response.status_code == (204 if put else 200)
            if ok and not put and response.json() != [s["id"] for s in batch]:
                ok = False
            with load.lock:
                load.requests += 1
                load.latencies.append(elapsed)
                if not ok:
                    load.errors.append(f"{response.status_code} {response.text[:200]}")
                elif not resend:
                    load.acked.extend(s["id"] for s in batch)
            if ok and not resend:
                sent.append(batch)


def all_ids(base: str, headers: dict[str, str]) -> list[str]:
    """Every statement id of the tenant, through `more` pages (format=ids, oldest first)."""
    ids: list[str] = []
    origin = f"{httpx.URL(base).scheme}://{httpx.URL(base).netloc.decode()}"
    with httpx.Client(headers=headers, timeout=120) as http:
        response = http.get(f"{base}/statements",
                            params={"limit": 500, "ascending": "true", "format": "ids"})
        while True:
            response.raise_for_status()
            page = response.json()
            ids += [s["id"] for s in page["statements"]]
            if not page["more"]:
                return ids
            response = http.get(f"{origin}{page['more']}")


def wait_until_up(base: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Whether the LRS `process` started answers `base`/about within `seconds` (False when it
    exits first or stays silent): a benchmark or a test then shows its log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{base}/about", timeout=1)
            return True
        except httpx.TransportError:
            time.sleep(0.05)
    return False
