"""Fixtures of the LRS tests: a root folder, a registry with cheap hashing, clients."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vigie.lrs.app import create_app
from vigie.lrs.tenants import NewCredential, TenantRegistry

VERSION = {"X-Experience-API-Version": "1.0.3"}


def basic(credential: NewCredential) -> dict[str, str]:
    """Headers of an authenticated xAPI request with this credential."""
    token = base64.b64encode(f"{credential.key}:{credential.secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", **VERSION}


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[TenantRegistry]:
    """Tenants `caen` and `rouen`; scrypt kept cheap (the cost is a parameter, not a rule)."""
    registry = TenantRegistry(tmp_path, scrypt_n=2**4)
    registry.add_tenant("caen")
    registry.add_tenant("rouen")
    yield registry
    registry.close()


@pytest.fixture
def client(tmp_path: Path, registry: TenantRegistry) -> Iterator[TestClient]:
    app = create_app(tmp_path, registry=registry, max_body_bytes=200_000, max_limit=50)
    with TestClient(app) as test_client:
        yield test_client
    app.state.store.close()


@pytest.fixture
def writer(registry: TenantRegistry) -> dict[str, str]:
    """Headers of a `caen` credential that may read and write everything."""
    return basic(registry.add_credential("caen", scopes=("all",), label="moodle-caen"))
