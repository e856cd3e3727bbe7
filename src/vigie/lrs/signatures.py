"""Signed statements (xAPI 1.0.3, Data 2.6): checks of the JWS sent as a signature attachment.

A signature attachment has usageType `http://adlnet.gov/expapi/attachments/signature` and
contentType `application/octet-stream`; its data (a part of the multipart request) is a JWS
in compact serialization (RFC 7515) signed with RS256, RS384 or RS512, whose payload is the
statement as it was before the signature was added. The LRS checks that:

- the JWS is well formed and its algorithm is one of the three;
- the payload is a valid statement equal to the received one under the statement comparison
  rules (Data 2.3.1): `authority`, `stored`, `version` and the attachments are ignored, `id`
  and `timestamp` only when one side lacks them (the LRS may assign them), timestamps are
  compared as instants, Group members in any order;
- when the JWS header has an `x5c` chain, the signature verifies with the public key of its
  first certificate. As the specification notes, this catches mistakes rather than proving
  who signed: the chain is not validated against any trust anchor. Without `x5c` there is no
  key to verify with, and only the form and the payload are checked.

Why `cryptography` rather than a JWS library: the compact serialization is three base64url
segments, and only RSA PKCS#1 v1.5 verification and X.509 decoding need real cryptography.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from vigie.lrs.attachments import SIGNATURE_USAGE, media_type
from vigie.lrs.errors import BadRequest
from vigie.lrs.formats import comparison_digest
from vigie.lrs.validation import validate_statements
from vigie.lrs.versions import XapiVersion

__all__ = ["ALGORITHMS", "check_signatures"]

ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}
_IGNORED = ("authority", "stored", "version", "attachments")


def _b64url(segment: str, what: str, where: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise BadRequest(f"{where}: the JWS {what} is not base64url") from None


def _json_object(raw: bytes, what: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(f"{where}: the JWS {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{where}: the JWS {what} must be a JSON object")
    return value


def _comparable(statement: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in statement.items() if key not in _IGNORED}
    for key in ("id", "timestamp"):
        if key not in other:
            kept.pop(key, None)
    if "id" in kept:
        kept["id"] = str(kept["id"]).lower()
    return kept


def _verify(header: dict[str, Any], signed: bytes, signature: bytes, where: str) -> None:
    chain = header.get("x5c")
    if chain is None:
        return
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise BadRequest(f"{where}: the JWS header x5c must be a non-empty array of certificates")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    except (binascii.Error, ValueError):
        raise BadRequest(
            f"{where}: the first certificate of the JWS header x5c is not a base64 DER "
            "X.509 certificate"
        ) from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadRequest(f"{where}: the x5c certificate's key is not an RSA key")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), ALGORITHMS[header["alg"]]())
    except InvalidSignature:
        raise BadRequest(
            f"{where}: the JWS signature does not verify with the first x5c certificate"
        ) from None


def check_signature(
    statement: dict[str, Any], jws: bytes, where: str, version: XapiVersion = "1.0.3"
) -> None:
    """Raises `BadRequest` naming the reason unless `jws` is a valid signature of `statement`
    (its payload validated under the rules of `version`, those of the request)."""
    try:
        text = jws.decode("ascii").strip()
    except UnicodeDecodeError:
        raise BadRequest(f"{where}: the signature is not a JWS compact serialization") from None
    segments = text.split(".")
    if len(segments) != 3:
        raise BadRequest(
            f"{where}: the signature is not a JWS compact serialization "
            "(header.payload.signature)"
        )
    header = _json_object(_b64url(segments[0], "header", where), "header", where)
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise BadRequest(
            f"{where}: the JWS algorithm must be RS256, RS384 or RS512, not {algorithm!r}"
        )
    payload = _json_object(_b64url(segments[1], "payload", where), "payload", where)
    signature = _b64url(segments[2], "signature", where)
    try:
        original = validate_statements([payload], version)[0]
    except BadRequest as exc:
        raise BadRequest(
            f"{where}: the JWS payload is not a valid statement: {exc.message}"
        ) from None
    if comparison_digest(_comparable(original, statement)) != comparison_digest(
        _comparable(statement, original)
    ):
        raise BadRequest(
            f"{where}: the JWS payload is not the same statement as the one received"
        )
    _verify(header, f"{segments[0]}.{segments[1]}".encode("ascii"), signature, where)


def check_signatures(
    statements: list[dict[str, Any]], is_array: bool, data: Mapping[str, bytes],
    version: XapiVersion = "1.0.3",
) -> None:
    """Checks every signature attachment of the statements against its data (sha2 → bytes)."""
    for n, statement in enumerate(statements):
        prefix = f"[{n}]." if is_array else ""
        for k, attachment in enumerate(statement.get("attachments", ())):
            if attachment["usageType"] != SIGNATURE_USAGE:
                continue
            where = f"{prefix}attachments[{k}]"
            if media_type(attachment["contentType"]) != "application/octet-stream":
                raise BadRequest(
                    f"{where}.contentType: a signature (usageType {SIGNATURE_USAGE}) must be "
                    f"application/octet-stream, not {attachment['contentType']!r}"
                )
            jws = data.get(attachment["sha2"].lower())
            if jws is None:
                raise BadRequest(
                    f"{where}: a signature must be sent as a part of a multipart/mixed request "
                    "(the LRS verifies it)"
                )
            check_signature(statement, jws, where, version)
