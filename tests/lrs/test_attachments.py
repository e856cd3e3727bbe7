"""Attachments (multipart/mixed in and out) and signed statements over HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from tests.lrs import statements as s
from tests.lrs.conftest import LrsBackend, basic, close_app
from vigie.lrs.attachments import parse_multipart
from vigie.lrs.errors import BadRequest
from vigie.lrs.tenants import TenantRegistry

URL = "/xAPI/statements"
BOUNDARY = "-------314159265358979323846"
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"
TEXT = b"here is a simple attachment"
OTHER = b"here is another attachment, longer"


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def declared(content: bytes, content_type: str = "text/plain", **extra: Any) -> dict[str, Any]:
    return {
        "usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "A test attachment"},
        "contentType": content_type,
        "length": len(content),
        "sha2": sha(content),
        **extra,
    }


def part(content: bytes, content_type: str = "text/plain", **headers: str) -> tuple[
    dict[str, str], bytes
]:
    fields = {
        "Content-Type": content_type,
        "Content-Transfer-Encoding": "binary",
        "X-Experience-API-Hash": sha(content),
    }
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})
    return {k: v for k, v in fields.items() if v}, content


def multipart(
    body: Any, *parts: tuple[dict[str, str], bytes], first_type: str = "application/json"
) -> bytes:
    dash = f"--{BOUNDARY}".encode()
    chunks = [dash, f"\r\nContent-Type: {first_type}\r\n\r\n".encode(), json.dumps(body).encode()]
    for headers, content in parts:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        chunks += [b"\r\n", dash, b"\r\n", head.encode(), b"\r\n", content]
    chunks += [b"\r\n", dash, b"--\r\n"]
    return b"".join(chunks)


def send(
    client: TestClient, headers: dict[str, str], payload: bytes, method: str = "POST",
    content_type: str = f"multipart/mixed; boundary={BOUNDARY}", **params: str,
) -> Any:
    return client.request(
        method, URL, content=payload, params=params,
        headers={**headers, "Content-Type": content_type},
    )


def with_text(**extra: Any) -> dict[str, Any]:
    return s.viewed(attachments=[declared(TEXT, **extra)])


def parts_of(response: Any) -> list[tuple[dict[str, str], bytes]]:
    """Splits a multipart/mixed answer with the standard library's e-mail parser."""
    from email.parser import BytesParser
    from email.policy import HTTP

    raw = f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode() + response.content
    message = BytesParser(policy=HTTP).parsebytes(raw)
    assert message.is_multipart()
    found = []
    for sub in message.iter_parts():
        payload = sub.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append(({k.lower(): str(v) for k, v in sub.items()}, payload))
    return found


# -- multipart requests -------------------------------------------------------------------


def test_post_multipart_stores_and_get_returns_the_data(
    client: TestClient, writer: dict[str, str]
) -> None:
    statement = s.viewed(attachments=[declared(TEXT), declared(OTHER, "text/plain; charset=utf-8")])
    response = send(client, writer, multipart(statement, part(TEXT), part(OTHER)))
    assert response.status_code == 200, response.text
    (statement_id,) = response.json()

    plain = client.get(URL, params={"statementId": statement_id}, headers=writer)
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.json()["attachments"][0]["sha2"] == sha(TEXT)

    got = client.get(URL, params={"statementId": statement_id, "attachments": "true"},
                     headers=writer)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("multipart/mixed; boundary=")
    assert "X-Experience-API-Consistent-Through" in got.headers
    parts = parts_of(got)
    assert len(parts) == 3
    assert parts[0][0]["content-type"] == "application/json"
    assert json.loads(parts[0][1])["id"] == statement_id
    assert parts[1] == (
        {"content-type": "text/plain", "content-transfer-encoding": "binary",
         "x-experience-api-hash": sha(TEXT)}, TEXT,
    )
    assert b"\r\nContent-Type: text/plain; charset=utf-8\r\n" in got.content
    assert parts[2][1] == OTHER
    # each hash appears once in the statement and once in a part header
    assert got.content.count(sha(TEXT).encode()) == 2

    head = client.head(URL, params={"statementId": statement_id, "attachments": "true"},
                       headers=writer)
    assert head.status_code == 200 and head.headers["content-type"].startswith("multipart/mixed")


def test_query_with_attachments_sends_each_content_once(
    client: TestClient, writer: dict[str, str]
) -> None:
    batch = [with_text(), with_text(), s.viewed(2)]
    response = send(client, writer, multipart(batch, part(TEXT)))
    assert response.status_code == 200, response.text
    got = client.get(URL, params={"attachments": "true"}, headers=writer)
    parts = parts_of(got)
    result = json.loads(parts[0][1])
    assert len(result["statements"]) == 3 and "more" in result
    assert [p[1] for p in parts[1:]] == [TEXT]
    assert client.get(URL, params={"attachments": "false"}, headers=writer).json()["statements"]


def test_attachments_true_without_data_is_multipart_with_one_part(
    client: TestClient, writer: dict[str, str]
) -> None:
    got = client.get(URL, params={"attachments": "true"}, headers=writer)
    assert got.status_code == 200
    parts = parts_of(got)
    assert len(parts) == 1 and json.loads(parts[0][1]) == {"statements": [], "more": ""}
    bad = client.get(URL, params={"attachments": "yes"}, headers=writer)
    assert bad.status_code == 400 and "X-Experience-API-Consistent-Through" in bad.headers


def test_put_multipart(client: TestClient, writer: dict[str, str]) -> None:
    statement_id = str(uuid.uuid4())
    response = send(client, writer, multipart(with_text(), part(TEXT)), method="PUT",
                    statementId=statement_id)
    assert response.status_code == 204, response.text
    got = client.get(URL, params={"statementId": statement_id, "attachments": "true"},
                     headers=writer)
    assert parts_of(got)[1][1] == TEXT


def test_part_for_an_attachment_with_file_url_is_kept(
    client: TestClient, writer: dict[str, str]
) -> None:
    statement = s.viewed(attachments=[declared(TEXT, fileUrl="http://over.there.example/f.txt")])
    (statement_id,) = send(client, writer, multipart(statement, part(TEXT))).json()
    got = client.get(URL, params={"statementId": statement_id, "attachments": "true"},
                     headers=writer)
    assert parts_of(got)[1][1] == TEXT


def test_multipart_without_attachments_and_with_file_url_only(
    client: TestClient, writer: dict[str, str]
) -> None:
    assert send(client, writer, multipart(s.viewed())).status_code == 200
    only_url = s.viewed(attachments=[declared(TEXT, fileUrl="http://over.there.example/f.txt")])
    assert send(client, writer, multipart(only_url)).status_code == 200
    got = client.get(URL, params={"attachments": "true", "limit": "1"}, headers=writer)
    assert len(parts_of(got)) == 1  # no data known for that sha2


def test_spec_shapes_preamble_quoted_boundary_and_no_space_after_colon(
    client: TestClient, writer: dict[str, str]
) -> None:
    boundary = "abcABC0123'()+_,-./:=?"
    body = (
        f"\r\n--{boundary}\r\nContent-Type:application/json\r\n\r\n"
        f"{json.dumps(with_text(contentType='text/plain; charset=ascii'))}\r\n"
        f"--{boundary}\r\nContent-Type:text/plain\r\nContent-Transfer-Encoding:binary\r\n"
        f"X-Experience-API-Hash:{sha(TEXT)}\r\n\r\n{TEXT.decode()}\r\n--{boundary}--"
    ).encode()
    response = send(client, writer, body, content_type=f'multipart/mixed; boundary="{boundary}"')
    assert response.status_code == 200, response.text


def test_binary_content_is_kept_exactly(client: TestClient, writer: dict[str, str]) -> None:
    content = bytes(range(256)) * 4 + b"\r\n--" + BOUNDARY[:10].encode() + b"\r\n\r\n"
    statement = s.viewed(attachments=[declared(content, "application/octet-stream")])
    (statement_id,) = send(
        client, writer, multipart(statement, part(content, "application/octet-stream"))
    ).json()
    got = client.get(URL, params={"statementId": statement_id, "attachments": "true"},
                     headers=writer)
    assert parts_of(got)[1][1] == content


def test_sha512_and_uppercase_hash(client: TestClient, writer: dict[str, str]) -> None:
    digest = hashlib.sha512(TEXT).hexdigest()
    statement = s.viewed(attachments=[{**declared(TEXT), "sha2": digest}])
    headers, content = part(TEXT, X_Experience_API_Hash=digest.upper())
    assert send(client, writer, multipart(statement, (headers, content))).status_code == 200


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing part", "no part of the request carries its data"),
        ("extra part", "is the sha2 of no attachment"),
        ("hash mismatch", "content's SHA-2 is"),
        ("no hash header", "X-Experience-API-Hash header"),
        ("base64 encoding", "Content-Transfer-Encoding must be binary"),
        ("first part not json", "Content-Type must be application/json"),
        ("statements split", "X-Experience-API-Hash header"),
        ("wrong part type", "differs from attachments[0].contentType"),
        ("wrong content-length", "Content-Length"),
        ("length differs from declared", "differs from attachments[0].length"),
        ("not a hash", "not hexadecimal"),
    ],
)
def test_multipart_rules(
    client: TestClient, writer: dict[str, str], case: str, message: str
) -> None:
    statement = with_text()
    payload = {
        "missing part": lambda: multipart(statement),
        "extra part": lambda: multipart(statement, part(TEXT), part(OTHER)),
        "hash mismatch": lambda: multipart(
            statement, part(TEXT, X_Experience_API_Hash=sha(OTHER))
        ),
        "no hash header": lambda: multipart(statement, part(TEXT, X_Experience_API_Hash="")),
        "base64 encoding": lambda: multipart(
            statement, part(TEXT, Content_Transfer_Encoding="base64")
        ),
        "first part not json": lambda: multipart(statement, part(TEXT), first_type="text/plain"),
        "statements split": lambda: multipart(
            statement, ({"Content-Type": "application/json"}, json.dumps(statement).encode()),
            part(TEXT),
        ),
        "wrong part type": lambda: multipart(statement, part(TEXT, "image/png")),
        "wrong content-length": lambda: multipart(statement, part(TEXT, Content_Length="3")),
        "length differs from declared": lambda: multipart(
            s.viewed(attachments=[{**declared(TEXT), "length": 3}]),
            part(TEXT, Content_Length=str(len(TEXT))),
        ),
        "not a hash": lambda: multipart(statement, part(TEXT, X_Experience_API_Hash="zz")),
    }[case]()
    response = send(client, writer, payload)
    assert response.status_code == 400, case
    assert message in response.json()["message"], response.json()["message"]
    # nothing was stored
    assert client.get(URL, headers=writer).json()["statements"] == []


def test_declared_length_alone_is_not_compared(client: TestClient, writer: dict[str, str]) -> None:
    statement = s.viewed(attachments=[{**declared(TEXT), "length": 1}])
    assert send(client, writer, multipart(statement, part(TEXT))).status_code == 200


def test_part_without_transfer_encoding_is_assumed_binary(
    client: TestClient, writer: dict[str, str]
) -> None:
    payload = multipart(with_text(), part(TEXT, Content_Transfer_Encoding=""))
    assert send(client, writer, payload).status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/mixed", b"--x\r\n\r\n{}\r\n--x--", "needs a boundary"),
        (f"multipart/mixed; boundary={BOUNDARY}", b"no delimiter at all", "no delimiter line"),
        (f"multipart/mixed; boundary={BOUNDARY}",
         f"--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{{}}".encode(),
         "close delimiter"),
        (f"multipart/mixed; boundary={BOUNDARY}", f"--{BOUNDARY}--".encode(), "no part"),
        (f"multipart/mixed; boundary={BOUNDARY}",
         f"--{BOUNDARY}\r\nContent-Type application/json\r\n\r\n{{}}\r\n--{BOUNDARY}--".encode(),
         "not a header line"),
        (f"multipart/mixed; boundary={BOUNDARY}",
         f"--{BOUNDARY}\r\nContent-Type: application/json\r\n{{}}\r\n--{BOUNDARY}--".encode(),
         "no empty line"),
        ("multipart/mixed; boundary=" + "x" * 71, b"", "not a valid boundary"),
    ],
)
def test_multipart_parser_errors(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_multipart(content_type, body)


def test_parser_preamble_epilogue_and_part_without_headers() -> None:
    body = (
        f"preamble\r\n--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n[]\r\n"
        f"--{BOUNDARY}\r\nX-Experience-API-Hash: {sha(b'raw')}\r\n\r\nraw\r\n"
        f"--{BOUNDARY}--\r\nepilogue"
    ).encode()
    first, rest = parse_multipart(f"multipart/mixed; boundary={BOUNDARY}", body)
    assert first == b"[]" and len(rest) == 1 and rest[0].content == b"raw"
    bare = body.replace(f"X-Experience-API-Hash: {sha(b'raw')}\r\n".encode(), b"")
    with pytest.raises(BadRequest, match="part 2: the X-Experience-API-Hash header"):
        parse_multipart(f"multipart/mixed; boundary={BOUNDARY}", bare)


def test_form_data_is_refused(client: TestClient, writer: dict[str, str]) -> None:
    response = send(client, writer, multipart(with_text(), part(TEXT)),
                    content_type=f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 400


def test_json_request_needs_file_url(client: TestClient, writer: dict[str, str]) -> None:
    response = client.post(URL, json=[s.viewed(), with_text()], headers=writer)
    assert response.status_code == 400
    assert response.json()["message"].startswith("[1].attachments[0].fileUrl: required")


def test_attachment_data_is_isolated_per_tenant(
    backend: LrsBackend, client: TestClient, writer: dict[str, str], registry: TenantRegistry
) -> None:
    assert send(client, writer, multipart(with_text(), part(TEXT))).status_code == 200
    rouen = basic(registry.add_credential("rouen", scopes=("all",)))
    statement = s.viewed(attachments=[declared(TEXT, fileUrl="http://x.example/f")])
    assert client.post(URL, json=statement, headers=rouen).status_code == 200
    got = client.get(URL, params={"attachments": "true"}, headers=rouen)
    assert len(parts_of(got)) == 1  # rouen never sent the data; caen's copy is not served
    assert backend.count("caen", "attachments") == 1
    assert backend.count("rouen", "attachments") == 0


def test_attachment_data_is_durable(backend: LrsBackend, registry: TenantRegistry) -> None:
    headers = basic(registry.add_credential("caen", scopes=("all",)))
    app = backend.app(registry)
    with TestClient(app) as first:
        (statement_id,) = send(first, headers, multipart(with_text(), part(TEXT))).json()
    close_app(app)
    again = backend.app(registry)
    with TestClient(again) as second:
        got = second.get(URL, params={"statementId": statement_id, "attachments": "true"},
                         headers=headers)
        assert parts_of(got)[1][1] == TEXT
    close_app(again)


# -- signed statements --------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vigie test signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jws(
    payload: Any, key: rsa.RSAPrivateKey, alg: str = "RS256", x5c: list[str] | None = None,
    raw_payload: bytes | None = None,
) -> bytes:
    header: dict[str, Any] = {"alg": alg}
    if x5c is not None:
        header["x5c"] = x5c
    body = raw_payload if raw_payload is not None else json.dumps(payload).encode()
    signed = f"{b64url(json.dumps(header).encode())}.{b64url(body)}"
    algorithm = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}
    signature = key.sign(signed.encode(), padding.PKCS1v15(), algorithm.get(alg, hashes.SHA256()))
    return f"{signed}.{b64url(signature)}".encode()


def signed_request(
    statement: dict[str, Any], token: bytes, content_type: str = "application/octet-stream"
) -> bytes:
    attachment = {**declared(token, content_type), "usageType": SIGNATURE}
    return multipart({**statement, "attachments": [attachment]}, part(token, content_type))


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_signed_statement_accepted(
    client: TestClient, writer: dict[str, str], key: rsa.RSAPrivateKey, alg: str
) -> None:
    statement = {**s.viewed(), "id": str(uuid.uuid4())}
    token = jws(statement, key, alg, x5c=[certificate(key)])
    response = send(client, writer, signed_request(statement, token))
    assert response.status_code == 200, response.text
    got = client.get(URL, params={"statementId": statement["id"], "attachments": "true"},
                     headers=writer)
    assert parts_of(got)[1][1] == token


def test_signed_statement_without_x5c_checks_the_payload_only(
    client: TestClient, writer: dict[str, str], key: rsa.RSAPrivateKey
) -> None:
    statement = s.viewed()
    # the payload may differ by what the LRS assigns or ignores (id, version, serialisation)
    payload = {**statement, "version": "1.0.0",
               "timestamp": "2024-09-02T06:30:00.123Z"}  # same instant as +02:00
    payload["context"] = {**statement["context"], "contextActivities": {
        "category": statement["context"]["contextActivities"]["category"][0]}}
    response = send(client, writer, signed_request(statement, jws(payload, key)))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("HS256", "must be RS256, RS384 or RS512, not 'HS256'"),
        ("none", "must be RS256, RS384 or RS512, not 'none'"),
        ("broken json", "JWS payload is not valid JSON"),
        ("other statement", "not the same statement"),
        ("invalid payload", "not a valid statement"),
        ("bad signature", "does not verify with the first x5c certificate"),
        ("other key", "does not verify with the first x5c certificate"),
        ("bad x5c", "x5c is not a base64 DER"),
        ("not compact", "not a JWS compact serialization"),
        ("content type", "must be application/octet-stream"),
    ],
)
def test_signed_statement_rejected(
    client: TestClient, writer: dict[str, str], key: rsa.RSAPrivateKey, case: str, message: str
) -> None:
    statement = {**s.viewed(), "id": str(uuid.uuid4())}
    cert = [certificate(key)]
    content_type = "application/octet-stream"
    if case == "HS256":
        token = jws(statement, key, "HS256")
    elif case == "none":
        none = b64url(json.dumps({"alg": "none"}).encode())
        token = f"{none}.{b64url(json.dumps(statement).encode())}.".encode()
    elif case == "broken json":
        token = jws(None, key, raw_payload=json.dumps(statement).replace('"', "'", 1).encode())
    elif case == "other statement":
        token = jws(s.viewed(2), key)
    elif case == "invalid payload":
        token = jws({"actor": {}}, key)
    elif case == "bad signature":
        good = jws(statement, key, x5c=cert)
        token = good[:-6] + (b"AAAAAA" if not good.endswith(b"AAAAAA") else b"BBBBBB")
    elif case == "other key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jws(statement, other, x5c=cert)
    elif case == "bad x5c":
        token = jws(statement, key, x5c=["not base64!"])
    elif case == "not compact":
        token = json.dumps({"payload": b64url(json.dumps(statement).encode())}).encode()
    else:
        token = jws(statement, key)
        content_type = "text/plain; charset=ascii"
    response = send(client, writer, signed_request(statement, token, content_type))
    assert response.status_code == 400, case
    assert message in response.json()["message"], response.json()["message"]
    assert response.json()["message"].startswith("attachments[0]")


def test_signature_needs_its_data(client: TestClient, writer: dict[str, str]) -> None:
    attachment = {**declared(b"x", "application/octet-stream"), "usageType": SIGNATURE,
                  "fileUrl": "http://signatures.example/x.jws"}
    response = client.post(URL, json=s.viewed(attachments=[attachment]), headers=writer)
    assert response.status_code == 400
    assert "must be sent as a part" in response.json()["message"]
