"""Credentials, scopes and tenant isolation."""

from __future__ import annotations

import base64
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.lrs import statements as s
from tests.lrs.conftest import VERSION, LrsBackend, basic
from vigie.lrs import auth
from vigie.lrs.auth import Authenticator, Unauthorized
from vigie.lrs.tenants import Credential, TenantRegistry, hash_secret, verify_secret

URL = "/xAPI/statements"


def test_missing_or_wrong_credentials_are_401(client: TestClient, registry: TenantRegistry) -> None:
    credential = registry.add_credential("caen")
    assert client.get(URL, headers=VERSION).status_code == 401
    response = client.get(URL, headers=VERSION)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    wrong = base64.b64encode(f"{credential.key}:nope".encode()).decode()
    assert (
        client.get(URL, headers={**VERSION, "Authorization": f"Basic {wrong}"}).status_code == 401
    )
    assert client.get(URL, headers={**VERSION, "Authorization": "Basic !!"}).status_code == 401
    assert client.get(URL, headers={**VERSION, "Authorization": "Bearer x"}).status_code == 401


def test_revoked_credential_stops_at_once(client: TestClient, registry: TenantRegistry) -> None:
    credential = registry.add_credential("caen")
    assert client.get(URL, headers=basic(credential)).status_code == 200
    registry.revoke_credential(credential.key)
    assert client.get(URL, headers=basic(credential)).status_code == 401


def test_scopes_are_enforced(client: TestClient, registry: TenantRegistry) -> None:
    write_only = basic(registry.add_credential("caen", scopes=("statements/write",)))
    read_only = basic(registry.add_credential("caen", scopes=("statements/read",)))
    assert client.post(URL, json=s.viewed(), headers=write_only).status_code == 200
    assert client.get(URL, headers=write_only).status_code == 403
    response = client.post(URL, json=s.viewed(), headers=read_only)
    assert response.status_code == 403 and "statements/write" in response.json()["message"]
    assert len(client.get(URL, headers=read_only).json()["statements"]) == 1


def test_read_mine_sees_only_its_own_statements(
    client: TestClient, registry: TenantRegistry
) -> None:
    mine = basic(
        registry.add_credential("caen", scopes=("statements/write", "statements/read/mine"))
    )
    other = basic(registry.add_credential("caen", scopes=("all",)))
    [own] = client.post(URL, json=s.viewed(1), headers=mine).json()
    [theirs] = client.post(URL, json=s.viewed(2), headers=other).json()
    listed = client.get(URL, headers=mine).json()["statements"]
    assert [st["id"] for st in listed] == [own]
    assert client.get(URL, params={"statementId": theirs}, headers=mine).status_code == 403
    assert client.get(URL, params={"statementId": own}, headers=mine).status_code == 200
    assert len(client.get(URL, headers=other).json()["statements"]) == 2


def test_tenants_are_isolated(
    client: TestClient, registry: TenantRegistry, backend: LrsBackend
) -> None:
    caen = basic(registry.add_credential("caen", scopes=("all",)))
    rouen = basic(registry.add_credential("rouen", scopes=("all",)))
    shared_id = str(uuid.uuid4())
    [caen_id] = client.post(URL, json=s.viewed(1, id=shared_id), headers=caen).json()
    assert client.get(URL, headers=rouen).json()["statements"] == []
    assert client.get(URL, params={"statementId": caen_id}, headers=rouen).status_code == 404
    # the same id in another tenant is another statement, not a conflict
    different = s.viewed(2, id=shared_id)
    assert client.post(URL, json=different, headers=rouen).status_code == 200
    assert client.get(URL, params={"statementId": shared_id}, headers=caen).json()[
        "actor"
    ] == s.learner(1)
    assert backend.stored_tenants() == ["caen", "rouen"]


def test_secret_is_shown_once_and_stored_hashed(
    registry: TenantRegistry, backend: LrsBackend
) -> None:
    credential = registry.add_credential("caen", scopes=("statements/write",), label="pod")
    assert credential.key.encode() in backend.registry_bytes()
    assert credential.secret.encode() not in backend.registry_bytes()
    [listed] = registry.credentials("caen")
    assert (
        listed["label"] == "pod"
        and "secret" not in listed
        and listed["scopes"] == ["statements/write"]
    )
    stored = registry.credential(credential.key)
    assert stored is not None and verify_secret(credential.secret, stored.secret_hash)
    assert not verify_secret("other", stored.secret_hash)
    assert not verify_secret("x", "md5$abc")
    assert hash_secret("a") != hash_secret("a")  # salted


def test_verified_secrets_are_cached(
    registry: TenantRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = registry.add_credential("caen")
    calls: list[str] = []
    real = verify_secret

    def counting(secret: str, record: str) -> bool:
        calls.append(secret)
        return real(secret, record)

    monkeypatch.setattr(auth, "verify_secret", counting)
    authenticator = Authenticator(registry)
    header = basic(credential)["Authorization"]
    for _ in range(5):
        assert authenticator.authenticate(header).tenant == "caen"
    assert len(calls) == 1
    wrong = "Basic " + base64.b64encode(f"{credential.key}:bad".encode()).decode()
    with pytest.raises(Unauthorized):
        authenticator.authenticate(wrong)
    assert len(calls) == 2


def test_registry_management(registry: TenantRegistry) -> None:
    with pytest.raises(ValueError, match="already exists"):
        registry.add_tenant("caen")
    with pytest.raises(ValueError, match="lowercase"):
        registry.add_tenant("../etc")
    with pytest.raises(ValueError, match="unknown scope"):
        registry.add_credential("caen", scopes=("statements/delete",))
    with pytest.raises(ValueError, match="no tenant"):
        registry.add_credential("lyon")
    registry.add_tenant("lyon", home_page="https://lrs.univ-lyon.example")
    credential = registry.add_credential("lyon")
    stored = registry.credential(credential.key)
    assert stored is not None
    assert stored.authority["account"] == {
        "homePage": "https://lrs.univ-lyon.example",
        "name": credential.key,
    }
    assert [t["name"] for t in registry.tenants()] == ["caen", "lyon", "rouen"]
    registry.remove_tenant("lyon")
    assert registry.credential(credential.key) is None
    with pytest.raises(ValueError, match="no credential"):
        registry.revoke_credential(credential.key)


def test_recently_verified_credentials_skip_the_registry(
    registry: TenantRegistry, backend: LrsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a header verified since the registry last changed is answered from memory
    (no row read: the event loop can answer it); PostgreSQL, which has no change counter,
    reads the row every time."""
    credential = registry.add_credential("caen")
    authenticator = Authenticator(registry)
    header = basic(credential)["Authorization"]
    assert authenticator.recent(header) is None
    assert authenticator.authenticate(header).key == credential.key
    reads: list[str] = []
    real = registry.credential

    def counted(key: str) -> Credential | None:
        reads.append(key)
        return real(key)

    monkeypatch.setattr(registry, "credential", counted)
    found = authenticator.recent(header)
    if backend.name == "sqlite":
        assert found is not None and found.key == credential.key and reads == []
    else:
        assert found is None
    wrong = "Basic " + base64.b64encode(f"{credential.key}:bad".encode()).decode()
    assert authenticator.recent(wrong) is None
    assert authenticator.recent("Bearer x") is None and authenticator.recent(None) is None


def test_any_registry_change_sends_headers_back_to_the_full_check(
    registry: TenantRegistry, backend: LrsBackend
) -> None:
    """A revocation through another registry object (another connection, as the CLI's)
    is seen at the next request, and an unrelated change costs one row read, not a 401."""
    kept = registry.add_credential("caen")
    revoked = registry.add_credential("caen")
    authenticator = Authenticator(registry)
    kept_header = basic(kept)["Authorization"]
    revoked_header = basic(revoked)["Authorization"]
    authenticator.authenticate(kept_header)
    authenticator.authenticate(revoked_header)
    other = backend.registry()
    try:
        other.revoke_credential(revoked.key)
        assert authenticator.recent(revoked_header) is None
        assert authenticator.recent(kept_header) is None
        with pytest.raises(Unauthorized):
            authenticator.authenticate(revoked_header)
        assert authenticator.authenticate(kept_header).key == kept.key
        other.add_tenant("lyon")
    finally:
        other.close()
    assert authenticator.recent(kept_header) is None
    assert authenticator.authenticate(kept_header).key == kept.key
