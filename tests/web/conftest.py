"""A small demo university, ingested once for the web tests, and an app with its accounts:
an admin, a manager, a viewer, a manager restricted to UFRST (which has the laboratory LIDEMO
below it) and a proxy-only manager restricted to UFRDEG."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.referential.conftest import fixture_ldif, slapd  # noqa: F401 (shared fixtures)
from vigie.config import Config, load_config
from vigie.demo import generate
from vigie.ingest.pipeline import ingest
from vigie.warehouse.query import connect
from vigie.web.accounts import write_account
from vigie.web.app import create_app

SECRET = b"test-secret-0123456789abcdef"
END = date(2026, 3, 20)
PASSWORDS = {"alice": "alice-password", "marc": "marc-password", "victor": "victor-password",
             "manon": "manon-password"}
ROLES = {"alice": "admin", "marc": "manager", "victor": "viewer", "manon": "manager"}
#: Restricted managers: manon (form login) and deg (proxy only).
STRUCTURES = {"manon": ("UFRST",), "deg": ("UFRDEG",)}
TRUSTED_PROXY = ("10.9.0.12", 4000)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    """(config, accounts file) of a 300-person, 14-day demo lake ending 2026-03-20."""
    folder = tmp_path_factory.mktemp("webdemo")
    config = load_config(generate(folder, people=300, days=14, end=END))
    ingest(config, secret=SECRET)
    accounts = folder / "accounts.json"
    for user, password in PASSWORDS.items():
        write_account(accounts, user, password, ROLES[user],  # type: ignore[arg-type]
                      STRUCTURES.get(user, ()))
    write_account(accounts, "proxyonly", None, "manager")
    write_account(accounts, "deg", None, "manager", STRUCTURES["deg"])
    return config, accounts


#: The last day of the holiday lake: 21 days from 25 October 2025 hold the end of the Toussaint
#: school holidays of zone B (to 2 November), and two public holidays, 1 and 11 November.
HOLIDAY_END = date(2025, 11, 14)
#: The bands a daily chart of that lake carries, each from the noon before its first day to the
#: noon after its last: (colour, x0, x1), school holidays first.
HOLIDAY_BANDS = [("#f2b705", "2025-10-24 12:00", "2025-11-02 12:00"),
                 ("#d6336c", "2025-10-31 12:00", "2025-11-01 12:00"),
                 ("#d6336c", "2025-11-10 12:00", "2025-11-11 12:00")]


@pytest.fixture(scope="session")
def holiday_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    """(config, accounts file with the admin alice) of a 300-person, 21-day demo lake ending
    2025-11-14, over school and public holidays (the web tests' main lake has none)."""
    folder = tmp_path_factory.mktemp("holidays")
    config = load_config(generate(folder, people=300, days=21, end=HOLIDAY_END))
    ingest(config, secret=SECRET)
    accounts = folder / "accounts.json"
    write_account(accounts, "alice", PASSWORDS["alice"], "admin")
    return config, accounts


@pytest.fixture(scope="session")
def pseudonyms(demo: tuple[Config, Path]) -> set[str]:
    """Every pseudonym of the lake: none may appear in any response."""
    rows = connect(demo[0].lake_path).sql(
        "SELECT DISTINCT user_pseudo FROM events WHERE user_pseudo IS NOT NULL").fetchall()
    assert len(rows) > 100
    return {r[0] for r in rows}


@pytest.fixture(scope="session")
def app(demo: tuple[Config, Path]) -> FastAPI:
    config, accounts = demo
    return create_app(config, accounts=accounts, trusted_proxies=["10.9.0.0/24"],
                      today=lambda: END)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


def login(client: TestClient, user: str) -> TestClient:
    response = client.post("/login", data={"user": user, "password": PASSWORDS[user],
                                           "next": "/dashboards/overview"})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/dashboards/overview"
    return client


@pytest.fixture
def admin(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield login(client, "alice")


@pytest.fixture
def viewer(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield login(client, "victor")


@pytest.fixture
def manager_ufrst(app: FastAPI) -> Iterator[TestClient]:
    """manon: a manager restricted to UFRST (and LIDEMO, its laboratory)."""
    with TestClient(app, follow_redirects=False) as client:
        yield login(client, "manon")


@pytest.fixture
def manager_deg(app: FastAPI) -> Iterator[TestClient]:
    """deg: a manager restricted to UFRDEG, through the trusted proxy."""
    with TestClient(app, follow_redirects=False, client=TRUSTED_PROXY,
                    headers={"REMOTE_USER": "deg"}) as client:
        yield client
