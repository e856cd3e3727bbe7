"""OIDC bearer tokens: signatures, claims, JWKS files and URLs, scopes, tenants, the CLI.

Keys are generated here; the JWKS URL is served by a thread server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.lrs import statements as s
from tests.lrs.conftest import VERSION, LrsBackend, close_app
from vigie.cli import app as cli_app
from vigie.lrs.app import create_app
from vigie.lrs.auth import Authenticator
from vigie.lrs.oidc import JwksCache, parse_jwks
from vigie.lrs.tenants import TenantRegistry

URL = "/xAPI/statements"
ISSUER = "https://idp.unicaen.example/realms/univ"
AUDIENCE = "vigie-lrs-caen"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
HASHES: dict[str, hashes.HashAlgorithm] = {
    "256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512(),
}
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64_int(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def jwk(key: PrivateKey, kid: str) -> dict[str, str]:
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        return {"kty": "RSA", "kid": kid, "use": "sig", "n": b64_int(numbers.n),
                "e": b64_int(numbers.e)}
    point = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
            "x": b64(point.x.to_bytes(32, "big")), "y": b64(point.y.to_bytes(32, "big"))}


def jwks(*keys: tuple[PrivateKey, str]) -> dict[str, Any]:
    return {"keys": [jwk(key, kid) for key, kid in keys]}


def sign(key: PrivateKey, alg: str, signed: bytes) -> bytes:
    digest = HASHES[alg[2:]]
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signed, padding.PKCS1v15(), digest)
    r, s_ = decode_dss_signature(key.sign(signed, ec.ECDSA(digest)))
    return r.to_bytes(32, "big") + s_.to_bytes(32, "big")


def token(
    key: PrivateKey = RSA_KEY, *, alg: str = "RS256", kid: str | None = "rsa-1",
    header: dict[str, Any] | None = None, **claims: Any,
) -> str:
    """A JWT signed by `key`; claims default to a valid caen token for alice."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300,
        "scope": "openid statements/write statements/read",
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    head: dict[str, Any] = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {})}
    head.update(header or {})
    signed = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(body).encode())}"
    return f"{signed}.{b64(sign(key, alg, signed.encode()))}"


def bearer(jwt: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt}", **VERSION}


def refused(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert reason in challenge, challenge
    assert reason in response.json()["message"]


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks((RSA_KEY, "rsa-1"), (EC_KEY, "ec-1"))))
    return path


@pytest.fixture
def oidc(registry: TenantRegistry, jwks_file: Path) -> TenantRegistry:
    """caen and rouen accept tokens of the same issuer, each for its own audience."""
    registry.set_oidc("caen", issuer=ISSUER, audience=AUDIENCE, jwks_file=str(jwks_file))
    registry.set_oidc("rouen", issuer=ISSUER, audience="vigie-lrs-rouen",
                      jwks_file=str(jwks_file))
    return registry


class JwksServer:
    """Serves `self.document` at /jwks.json on 127.0.0.1 and counts the requests."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = jwks((RSA_KEY, "rsa-1"))
        self.requests = 0
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                body = json.dumps(outer.document).encode()
                self.send_response(outer.status if self.path == "/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def cache_of(client: TestClient) -> JwksCache:
    authenticator: Authenticator = client.app.state.authenticator  # type: ignore[attr-defined]
    return authenticator.oidc.jwks


# -- accepted tokens -----------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "key", "kid"), [
    ("RS256", RSA_KEY, "rsa-1"), ("RS384", RSA_KEY, "rsa-1"), ("RS512", RSA_KEY, "rsa-1"),
    ("ES256", EC_KEY, "ec-1"),
])
def test_valid_token_writes_and_reads(
    client: TestClient, oidc: TenantRegistry, alg: str, key: PrivateKey, kid: str
) -> None:
    headers = bearer(token(key, alg=alg, kid=kid))
    response = client.post(URL, json=s.viewed(), headers=headers)
    assert response.status_code == 200, response.text
    [stored] = client.get(URL, headers=headers).json()["statements"]
    assert stored["id"] == response.json()[0]
    assert stored["authority"] == {
        "objectType": "Agent", "account": {"homePage": ISSUER, "name": "alice"},
    }


def test_token_details_that_are_accepted(client: TestClient, oidc: TenantRegistry) -> None:
    now = int(time.time())
    accepted = [
        token(aud=["account", AUDIENCE]),  # aud as a list
        token(exp=now - 10),  # expired within the leeway (clock skew)
        token(nbf=now + 10),  # not before, within the leeway
        token(scope="statements/read unknown/scope", extra={"nested": [1, 2]}),
        token(kid=None),  # no kid: the JWKS's RSA key is tried
    ]
    for jwt in accepted:
        assert client.get(URL, headers=bearer(jwt)).status_code == 200, jwt


def test_scope_claim_and_user_claim_are_configurable(
    client: TestClient, oidc: TenantRegistry, jwks_file: Path
) -> None:
    oidc.set_oidc("caen", issuer=ISSUER, audience=AUDIENCE, jwks_file=str(jwks_file),
                  scope_claim="scp", user_claim="preferred_username")
    jwt = token(scope=None, scp=["statements/write", "statements/read"],
                preferred_username="alice.martin")
    assert client.post(URL, json=s.viewed(), headers=bearer(jwt)).status_code == 200
    [stored] = client.get(URL, headers=bearer(jwt)).json()["statements"]
    assert stored["authority"]["account"]["name"] == "alice.martin"
    response = client.get(URL, headers=bearer(token()))  # no preferred_username claim
    refused(response, "no preferred_username claim")


# -- refused tokens ------------------------------------------------------------------------


def test_expired_and_not_yet_valid_tokens(client: TestClient, oidc: TenantRegistry) -> None:
    now = int(time.time())
    refused(client.get(URL, headers=bearer(token(exp=now - 120))), "expired")
    refused(client.get(URL, headers=bearer(token(nbf=now + 120))), "not valid yet")
    refused(client.get(URL, headers=bearer(token(exp=None))), "no exp")
    refused(client.get(URL, headers=bearer(token(exp="tomorrow"))), "no exp")


def test_wrong_issuer_or_audience(client: TestClient, oidc: TenantRegistry) -> None:
    refused(client.get(URL, headers=bearer(token(iss="https://evil.example"))), "wrong issuer")
    refused(client.get(URL, headers=bearer(token(iss=None))), "no iss")
    refused(client.get(URL, headers=bearer(token(aud="someone-else"))), "wrong audience")
    refused(client.get(URL, headers=bearer(token(aud=None))), "no aud")


def test_bad_signature(client: TestClient, oidc: TenantRegistry) -> None:
    # signed by another key under the known kid
    refused(client.get(URL, headers=bearer(token(OTHER_RSA_KEY))), "bad signature")
    # a valid token whose payload was changed afterwards
    head, _, signature = token().split(".")
    forged = b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "scope": "all",
                             "exp": int(time.time()) + 300}).encode())
    refused(client.get(URL, headers=bearer(f"{head}.{forged}.{signature}")), "bad signature")
    # an ES256 signature of the wrong length
    head, payload, signature = token(EC_KEY, alg="ES256", kid="ec-1").split(".")
    refused(client.get(URL, headers=bearer(f"{head}.{payload}.{signature[:-4]}")),
            "bad signature")


def test_unknown_kid(client: TestClient, oidc: TenantRegistry) -> None:
    refused(client.get(URL, headers=bearer(token(kid="rotated-away"))), "unknown kid")
    # a kid of the wrong key type for the algorithm is no key either
    refused(client.get(URL, headers=bearer(token(kid="ec-1"))), "unknown kid")


def test_alg_none_and_hmac_are_refused(client: TestClient, oidc: TenantRegistry) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "scope": "all", "exp": now + 300}
    payload = b64(json.dumps(claims).encode())
    for alg in ("none", "None", "NONE"):
        head = b64(json.dumps({"alg": alg, "kid": "rsa-1"}).encode())
        refused(client.get(URL, headers=bearer(f"{head}.{payload}.")), "alg none")
        refused(client.get(URL, headers=bearer(f"{head}.{payload}.AAAA")), "alg none")
    # HS256 keyed with the public key (the classic algorithm-confusion attack)
    public = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = b64(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode())
    mac = hmac.new(public, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    refused(client.get(URL, headers=bearer(f"{head}.{payload}.{b64(mac)}")), "alg HS256")
    # critical headers this LRS does not understand
    refused(client.get(URL, headers=bearer(token(header={"crit": ["exp"]}))), "critical")


def test_malformed_tokens(client: TestClient, oidc: TenantRegistry) -> None:
    for jwt in ("x", "a.b", "a.b.c", "a.b.c.d", "a!.b.c", "AAAA.AAAA.AAAA", "a" * 20_000):
        response = client.get(URL, headers=bearer(jwt))
        assert response.status_code == 401, jwt
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    refused(client.get(URL, headers=bearer(token(sub=42))), "no sub claim")
    refused(client.get(URL, headers=bearer(token(scope={"all": True}))), "scope claim")


def test_error_description_stays_within_the_header_charset(
    client: TestClient, oidc: TenantRegistry
) -> None:
    response = client.get(URL, headers=bearer(token(iss='https://x.example/"\\é')))
    refused(response, "wrong issuer")
    description = response.headers["WWW-Authenticate"].split('error_description="', 1)[1]
    assert description.endswith('"') and '"' not in description[:-1]
    assert "\\" not in description and "é" not in description


# -- scopes and authority ------------------------------------------------------------------


def test_missing_scope_is_403(client: TestClient, oidc: TenantRegistry, jwks_file: Path) -> None:
    reader = bearer(token(scope="statements/read"))
    response = client.post(URL, json=s.viewed(), headers=reader)
    assert response.status_code == 403 and "statements/write" in response.json()["message"]
    assert client.get(URL, headers=reader).status_code == 200
    nothing = bearer(token(scope="openid profile:email unknown/scope"))
    assert client.get(URL, headers=nothing).status_code == 403
    # a tenant may cap what its tokens grant
    oidc.set_oidc("caen", issuer=ISSUER, audience=AUDIENCE, jwks_file=str(jwks_file),
                  scopes=("statements/write",))
    capped = bearer(token(scope="all statements/write"))
    assert client.post(URL, json=s.viewed(), headers=capped).status_code == 200
    assert client.get(URL, headers=capped).status_code == 403


def test_read_mine_uses_the_token_authority(
    client: TestClient, oidc: TenantRegistry, writer: dict[str, str]
) -> None:
    mine = "statements/write statements/read/mine"
    alice = bearer(token(scope=mine))
    bob = bearer(token(scope=mine, sub="bob"))
    [own] = client.post(URL, json=s.viewed(1), headers=alice).json()
    [bobs] = client.post(URL, json=s.viewed(2), headers=bob).json()
    client.post(URL, json=s.viewed(3), headers=writer)
    assert [st["id"] for st in client.get(URL, headers=alice).json()["statements"]] == [own]
    assert [st["id"] for st in client.get(URL, headers=bob).json()["statements"]] == [bobs]
    assert client.get(URL, params={"statementId": bobs}, headers=alice).status_code == 403
    assert client.get(URL, params={"statementId": own}, headers=alice).status_code == 200
    assert len(client.get(URL, headers=writer).json()["statements"]) == 3


def test_tenants_are_isolated(client: TestClient, oidc: TenantRegistry, jwks_file: Path) -> None:
    caen = bearer(token(scope="all"))
    rouen = bearer(token(scope="all", aud="vigie-lrs-rouen"))
    [caen_id] = client.post(URL, json=s.viewed(1), headers=caen).json()
    assert client.get(URL, headers=rouen).json()["statements"] == []
    assert client.get(URL, params={"statementId": caen_id}, headers=rouen).status_code == 404
    [rouen_id] = client.post(URL, json=s.viewed(2), headers=rouen).json()
    assert [st["id"] for st in client.get(URL, headers=caen).json()["statements"]] == [caen_id]
    assert client.get(URL, params={"statementId": rouen_id}, headers=caen).status_code == 404
    # a token naming both audiences cannot pick a tenant
    both = bearer(token(aud=[AUDIENCE, "vigie-lrs-rouen"]))
    refused(client.get(URL, headers=both), "several tenants")
    # an (issuer, audience) pair belongs to one tenant
    with pytest.raises(ValueError, match="already accepts"):
        oidc.set_oidc("rouen", issuer=ISSUER, audience=AUDIENCE, jwks_file=str(jwks_file))
    # without an OIDC configuration, a tenant accepts no token
    oidc.remove_oidc("rouen")
    refused(client.get(URL, headers=rouen), "wrong audience")


def test_basic_auth_still_works(
    client: TestClient, oidc: TenantRegistry, writer: dict[str, str]
) -> None:
    assert client.post(URL, json=s.viewed(), headers=writer).status_code == 200
    assert len(client.get(URL, headers=writer).json()["statements"]) == 1
    response = client.get(URL, headers=VERSION)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_documents_accept_tokens(client: TestClient, oidc: TenantRegistry) -> None:
    agent = json.dumps({"mbox": "mailto:alice@unicaen.example"})
    params = {"activityId": "https://moodle.unicaen.example/mod/quiz/1", "agent": agent,
              "stateId": "progress"}
    state = bearer(token(scope="state"))
    assert client.put("/xAPI/activities/state", params=params, json={"page": 3},
                      headers=state).status_code == 204
    assert client.get("/xAPI/activities/state", params=params,
                      headers=state).json() == {"page": 3}
    assert client.get("/xAPI/activities/state", params=params,
                      headers=bearer(token(scope="statements/read"))).status_code == 403


# -- JWKS sources --------------------------------------------------------------------------


def test_jwks_url_is_cached_and_refreshed_on_unknown_kid(
    client: TestClient, registry: TenantRegistry, jwks_server: JwksServer
) -> None:
    registry.set_oidc("caen", issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_server.url)
    cache = cache_of(client)
    assert client.get(URL, headers=bearer(token())).status_code == 200
    assert client.get(URL, headers=bearer(token())).status_code == 200
    assert jwks_server.requests == 1  # cached
    # the issuer rotates keys: a token with the new kid makes the LRS fetch the JWKS again
    jwks_server.document = jwks((RSA_KEY, "rsa-1"), (EC_KEY, "ec-2"))
    cache.min_refresh = 0
    assert client.get(URL, headers=bearer(token(EC_KEY, alg="ES256", kid="ec-2"))
                      ).status_code == 200
    assert jwks_server.requests == 2
    # unknown kids do not make the LRS fetch again within min_refresh
    cache.min_refresh = 3600
    for attempt in range(3):
        refused(client.get(URL, headers=bearer(token(kid=f"forged-{attempt}"))), "unknown kid")
    assert jwks_server.requests == 2
    # after the TTL, fetched again
    cache.ttl = 0
    assert client.get(URL, headers=bearer(token())).status_code == 200
    assert jwks_server.requests == 3


def test_jwks_url_failures(
    client: TestClient, registry: TenantRegistry, jwks_server: JwksServer
) -> None:
    registry.set_oidc("caen", issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_server.url)
    jwks_server.status = 500
    response = client.get(URL, headers=bearer(token()))
    assert response.status_code == 503 and "could not be fetched" in response.json()["message"]
    jwks_server.status = 200
    assert client.get(URL, headers=bearer(token())).status_code == 200
    # once keys are known, a failing refetch keeps them
    jwks_server.status = 500
    cache_of(client).ttl = 0
    assert client.get(URL, headers=bearer(token())).status_code == 200


def test_jwks_url_must_be_https_except_on_loopback(registry: TenantRegistry) -> None:
    for url in ("http://idp.example/jwks.json", "ftp://idp.example/jwks.json",
                "http://127.0.0.1@idp.example/jwks.json", "https://"):
        with pytest.raises(ValueError, match="https"):
            registry.set_oidc("caen", issuer=ISSUER, audience=AUDIENCE, jwks_url=url)
    with pytest.raises(ValueError, match="exactly one"):
        registry.set_oidc("caen", issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValueError, match="no tenant"):
        registry.set_oidc("nowhere", issuer=ISSUER, audience=AUDIENCE,
                          jwks_url="https://idp.example/jwks.json")


def test_jwks_file_is_read_again_when_it_changes(
    client: TestClient, oidc: TenantRegistry, jwks_file: Path
) -> None:
    assert client.get(URL, headers=bearer(token())).status_code == 200
    rotated = jwks_file.with_name("rotated.json")
    rotated.write_text(json.dumps(jwks((OTHER_RSA_KEY, "rsa-2"))))
    os.replace(rotated, jwks_file)
    assert client.get(URL, headers=bearer(token(OTHER_RSA_KEY, kid="rsa-2"))).status_code == 200
    refused(client.get(URL, headers=bearer(token())), "unknown kid")
    jwks_file.unlink()
    assert client.get(URL, headers=bearer(token())).status_code == 503


def test_parse_jwks_keeps_only_usable_signature_keys() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    document = jwks((RSA_KEY, "a"), (EC_KEY, "b"), (small, "weak"))
    document["keys"] += [
        {**jwk(RSA_KEY, "enc"), "use": "enc"},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        "not an object",
    ]
    assert [key.kid for key in parse_jwks(json.dumps(document))] == ["a", "b"]
    for bad in ("[]", "{}", "not json", '{"keys": {}}'):
        with pytest.raises(ValueError):
            parse_jwks(bad)


def test_registry_forgets_oidc_with_its_tenant(oidc: TenantRegistry) -> None:
    assert oidc.oidc("caen") is not None
    oidc.remove_tenant("caen")
    assert oidc.oidc("caen") is None
    assert [config.tenant for config in oidc.oidc_for_issuer(ISSUER)] == ["rouen"]
    with pytest.raises(ValueError, match="no OIDC"):
        oidc.remove_oidc("caen")


# -- CLI -----------------------------------------------------------------------------------


def test_cli_oidc_set_show_remove(backend: LrsBackend, tmp_path: Path, jwks_file: Path) -> None:
    runner = CliRunner()
    env = {"COLUMNS": "200", **backend.env()}

    def run(*args: str) -> Any:
        return runner.invoke(cli_app, ["lrs", *args, *backend.cli()], env=env)

    for command in ("set", "show", "remove"):
        result = runner.invoke(cli_app, ["lrs", "oidc", command, "--help"], env=env)
        assert result.exit_code == 0 and "Example:" in result.output
    assert run("tenant", "add", "univ-demo").exit_code == 0
    result = run("oidc", "set", "univ-demo", "--issuer", ISSUER, "--audience", AUDIENCE,
                 "--jwks-file", str(jwks_file), "--scope-claim", "scp",
                 "--allow-scope", "statements/write", "--allow-scope", "statements/read/mine")
    assert result.exit_code == 0, result.output
    shown = run("oidc", "show", "univ-demo")
    assert shown.exit_code == 0
    for text in (ISSUER, AUDIENCE, str(jwks_file.resolve()), "scp", "sub",
                 "statements/write statements/read/mine"):
        assert text in shown.output
    assert run("oidc", "set", "univ-demo", "--issuer", ISSUER, "--audience", AUDIENCE,
               "--jwks-url", "http://idp.example/jwks.json").exit_code == 2
    assert run("oidc", "set", "univ-demo", "--issuer", ISSUER, "--audience", AUDIENCE
               ).exit_code == 2
    not_jwks = tmp_path / "not.json"
    not_jwks.write_text("{}")
    assert run("oidc", "set", "univ-demo", "--issuer", ISSUER, "--audience", AUDIENCE,
               "--jwks-file", str(not_jwks)).exit_code == 2
    assert run("oidc", "set", "univ-demo", "--issuer", ISSUER, "--audience", AUDIENCE,
               "--jwks-url", "https://idp.example/jwks.json").exit_code == 0
    assert "https://idp.example/jwks.json" in run("oidc", "show", "univ-demo").output
    assert run("oidc", "remove", "univ-demo").exit_code == 0
    assert run("oidc", "show", "univ-demo").exit_code == 2
    assert run("oidc", "remove", "univ-demo").exit_code == 2


def test_app_serves_tokens_from_a_root_configured_by_the_cli(
    tmp_path: Path, jwks_file: Path
) -> None:
    """The default application of a root reads the registry the CLI wrote there."""
    registry = TenantRegistry(tmp_path)
    registry.add_tenant("caen")
    registry.set_oidc("caen", issuer=ISSUER, audience=AUDIENCE, jwks_file=str(jwks_file))
    app = create_app(tmp_path)
    with TestClient(app) as client:
        assert client.post(URL, json=s.viewed(), headers=bearer(token())).status_code == 200
    app.state.store.close()
    registry.close()


def test_app_serves_tokens_configured_by_another_process(
    backend: LrsBackend, jwks_file: Path
) -> None:
    """OIDC settings written by another registry (the CLI) apply to a running server."""
    app = backend.app()
    registry = backend.registry()
    registry.add_tenant("caen")
    registry.set_oidc("caen", issuer=ISSUER, audience=AUDIENCE, jwks_file=str(jwks_file))
    with TestClient(app) as client:
        assert client.post(URL, json=s.viewed(), headers=bearer(token())).status_code == 200
    close_app(app)
    app.state.registry.close()
    registry.close()
