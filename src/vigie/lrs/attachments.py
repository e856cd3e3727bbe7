"""Attachment data of statements: `multipart/mixed` requests and responses (xAPI 1.0.3,
Communication 1.5.2 and 2.1.3, Data 2.4.11).

Why a parser of our own rather than a form-data library: xAPI's multipart is RFC 2046
`multipart/mixed` with its own per-part rules (first part `application/json`, then parts
identified by `X-Experience-API-Hash`, `Content-Transfer-Encoding: binary`), and every rule
broken must become a 400 that names the part and the rule. The body is already in memory
(bounded by the LRS's `max_body_bytes`), so splitting it on the boundary is simple and exact.

Matching is by SHA-2 only, as the specification requires: a part's content must hash to its
`X-Experience-API-Hash`, that hash must be the `sha2` of an attachment declared by the
statements, and every declared attachment without a `fileUrl` must have a part. A part's
`Content-Length`, when sent, must match its content and the declared `length`; the declared
`length` alone is not compared with the content, since the specification only requires that
the part's parameters match the properties and matches data by hash.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from vigie.lrs.errors import BadRequest

__all__ = [
    "SIGNATURE_USAGE",
    "AttachmentStore",
    "Part",
    "attachment_hashes",
    "content_hash",
    "declared_attachments",
    "match_parts",
    "media_type",
    "multipart_response",
    "parse_multipart",
]

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
_HASHES = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
# RFC 2046 5.1.1: 1 to 70 characters of bchars, not ending with a space
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")


@dataclass(frozen=True)
class Part:
    """One body part: header names lowered, values stripped; the content as sent."""

    headers: dict[str, str]
    content: bytes


@runtime_checkable
class AttachmentStore(Protocol):
    """A statement store that also keeps attachment data, per tenant, by SHA-2."""

    def insert_with_attachments(
        self, statements: list[dict[str, Any]], attachments: Mapping[str, bytes], *, tenant: str
    ) -> list[str]:
        """`insert`, plus the attachment contents (lowercase sha2 → bytes) in the same
        atomic, durable transaction; contents already stored are kept once."""
        ...

    def attachment_data(self, hashes: Iterable[str], *, tenant: str) -> dict[str, bytes]:
        """The stored contents among `hashes` (lowercase sha2), absent ones left out."""
        ...


def media_type(value: str) -> str:
    """`Type/Sub; charset=x` → `type/sub` (what two content types must share to match)."""
    return value.split(";", 1)[0].strip().lower()


def _parameters(value: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in re.finditer(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', value):
        raw = match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        found[match.group(1).lower()] = raw
    return found


def content_hash(sha2: str, content: bytes) -> str:
    """The SHA-2 of `content` with the variant that `sha2`'s length implies (224 to 512)."""
    algorithm = _HASHES.get(len(sha2))
    if algorithm is None:
        raise BadRequest(
            f"X-Experience-API-Hash: {sha2!r} is not a SHA-224, SHA-256, SHA-384 or SHA-512 "
            "hexadecimal digest"
        )
    return algorithm(content).hexdigest()


def _headers(block: bytes, where: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            raise BadRequest(f"{where}: folded header lines are not supported")
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            text = line[:60].decode("utf-8", "replace")
            raise BadRequest(f"{where}: {text!r} is not a header line (Name: value)")
        try:
            headers[name.strip().decode("ascii").lower()] = value.strip().decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"{where}: header {name[:40]!r} is not valid text") from None
    return headers


def _split(body: bytes, boundary: bytes) -> Iterator[bytes]:
    """The parts between `--boundary` delimiters (RFC 2046 5.1.1): the CRLF before each
    delimiter belongs to it; a preamble before the first and an epilogue after the last
    (`--boundary--`) are ignored."""
    dash = b"--" + boundary
    if body.startswith(dash):
        position = 0
    else:
        found = body.find(b"\r\n" + dash)
        if found < 0:
            raise BadRequest(
                "multipart/mixed: the body contains no delimiter line --<boundary> "
                "for the boundary of the Content-Type header"
            )
        position = found + 2
    while True:
        after = position + len(dash)
        if body[after:after + 2] == b"--":
            return
        line_end = body.find(b"\r\n", after)
        if line_end < 0 or body[after:line_end].strip(b" \t"):
            raise BadRequest("multipart/mixed: a delimiter line must be --<boundary> then CRLF")
        start = line_end + 2
        found = body.find(b"\r\n" + dash, start)
        if found < 0:
            raise BadRequest(
                "multipart/mixed: the body does not end with the close delimiter --<boundary>--"
            )
        yield body[start:found]
        position = found + 2


def parse_multipart(content_type: str, body: bytes) -> tuple[bytes, list[Part]]:
    """A `multipart/mixed` statement request → (the JSON of the first part, the other parts).

    Raises `BadRequest` for a missing or invalid boundary, a malformed body, a first part
    that is not `application/json`, or an attachment part without `X-Experience-API-Hash`,
    with a `Content-Transfer-Encoding` other than `binary`, or whose content does not hash to
    its `X-Experience-API-Hash`.
    """
    boundary = _parameters(content_type).get("boundary", "")
    if not boundary:
        raise BadRequest("Content-Type: multipart/mixed needs a boundary parameter")
    if not _BOUNDARY.match(boundary):
        raise BadRequest(f"Content-Type: {boundary!r} is not a valid boundary (RFC 2046)")
    sections = list(_split(body, boundary.encode("ascii")))
    if not sections:
        raise BadRequest("multipart/mixed: the body has no part; the first must be the statements")
    parts: list[Part] = []
    for index, section in enumerate(sections):
        where = "multipart/mixed part 1 (statements)" if index == 0 else (
            f"multipart/mixed part {index + 1}"
        )
        if section.startswith(b"\r\n"):
            block, content = b"", section[2:]
        else:
            block, separator, content = section.partition(b"\r\n\r\n")
            if not separator:
                raise BadRequest(f"{where}: no empty line between the headers and the content")
        parts.append(Part(_headers(block, where), content))
    first, rest = parts[0], parts[1:]
    first_type = first.headers.get("content-type")
    if first_type is None or media_type(first_type) != "application/json":
        raise BadRequest(
            "multipart/mixed part 1 (statements): Content-Type must be application/json, "
            f"not {first_type!r}"
        )
    for number, part in enumerate(rest, start=2):
        where = f"multipart/mixed part {number}"
        encoding = part.headers.get("content-transfer-encoding", "binary")
        if encoding.lower() != "binary":
            raise BadRequest(f"{where}: Content-Transfer-Encoding must be binary, not {encoding!r}")
        declared = part.headers.get("x-experience-api-hash")
        if not declared:
            raise BadRequest(
                f"{where}: the X-Experience-API-Hash header (the sha2 of the attachment) is "
                "missing"
            )
        if not _HEX.match(declared):
            raise BadRequest(f"{where}: X-Experience-API-Hash {declared!r} is not hexadecimal")
        if content_hash(declared, part.content) != declared.lower():
            raise BadRequest(
                f"{where}: the content's SHA-2 is {content_hash(declared, part.content)}, "
                f"not the X-Experience-API-Hash {declared.lower()}"
            )
        length = part.headers.get("content-length")
        if length is not None and length != str(len(part.content)):
            raise BadRequest(
                f"{where}: Content-Length {length!r} but the content has {len(part.content)} "
                "octets"
            )
    return first.content, rest


def declared_attachments(
    statements: list[dict[str, Any]], is_array: bool
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, attachment) of every attachment of the statements and of their SubStatements."""
    for n, statement in enumerate(statements):
        prefix = f"[{n}]." if is_array else ""
        for k, attachment in enumerate(statement.get("attachments", ())):
            yield f"{prefix}attachments[{k}]", attachment
        obj = statement.get("object", {})
        if obj.get("objectType") == "SubStatement":
            for k, attachment in enumerate(obj.get("attachments", ())):
                yield f"{prefix}object.attachments[{k}]", attachment


def match_parts(
    statements: list[dict[str, Any]], is_array: bool, parts: list[Part]
) -> dict[str, bytes]:
    """Pairs parts with the statements' attachments by SHA-2; returns sha2 → content.

    Every part must carry the data of a declared attachment, with a matching media type and
    length when it states them; every attachment without `fileUrl` must have a part.
    """
    declared: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path, attachment in declared_attachments(statements, is_array):
        declared.setdefault(attachment["sha2"].lower(), []).append((path, attachment))
    data: dict[str, bytes] = {}
    for number, part in enumerate(parts, start=2):
        sha2 = part.headers["x-experience-api-hash"].lower()
        where = f"multipart/mixed part {number}"
        if sha2 not in declared:
            raise BadRequest(
                f"{where}: X-Experience-API-Hash {sha2} is the sha2 of no attachment of the "
                "statements; every part after the first must be the data of one"
            )
        sent_type = part.headers.get("content-type")
        if sent_type is not None and all(
            media_type(sent_type) != media_type(a["contentType"]) for _, a in declared[sha2]
        ):
            path, attachment = declared[sha2][0]
            raise BadRequest(
                f"{where}: Content-Type {sent_type!r} differs from {path}.contentType "
                f"{attachment['contentType']!r}"
            )
        length = part.headers.get("content-length")
        if length is not None and all(str(a["length"]) != length for _, a in declared[sha2]):
            path, attachment = declared[sha2][0]
            raise BadRequest(
                f"{where}: Content-Length {length} differs from {path}.length "
                f"{attachment['length']}"
            )
        data.setdefault(sha2, part.content)
    for sha2, uses in declared.items():
        for path, attachment in uses:
            if "fileUrl" not in attachment and sha2 not in data:
                raise BadRequest(
                    f"{path}: no part of the request carries its data (sha2 {sha2}) and it has "
                    "no fileUrl"
                )
    return data


def attachment_hashes(statements: Iterable[dict[str, Any]]) -> list[str]:
    """The distinct lowercase sha2 of the statements' attachments, in order of appearance."""
    found: dict[str, None] = {}
    for statement in statements:
        for _, attachment in declared_attachments([statement], False):
            found.setdefault(str(attachment["sha2"]).lower(), None)
    return list(found)


def _content_types(statements: Iterable[dict[str, Any]]) -> dict[str, str]:
    types: dict[str, str] = {}
    for statement in statements:
        for _, attachment in declared_attachments([statement], False):
            types.setdefault(str(attachment["sha2"]).lower(), str(attachment["contentType"]))
    return types


def multipart_response(
    document: bytes, statements: list[dict[str, Any]], data: Mapping[str, bytes]
) -> tuple[bytes, str]:
    """The multipart/mixed answer to `GET /statements?attachments=true`: the JSON document
    first, then each attachment of `statements` whose data is in `data`, once per sha2.
    Returns (body, Content-Type)."""
    types = _content_types(statements)
    pieces = [(b"Content-Type: application/json\r\n", document)]
    for sha2 in attachment_hashes(statements):
        if sha2 in data:
            head = (
                f"Content-Type: {types[sha2]}\r\nContent-Transfer-Encoding: binary\r\n"
                f"X-Experience-API-Hash: {sha2}\r\n"
            ).encode()
            pieces.append((head, data[sha2]))
    boundary = uuid.uuid4().hex
    while any(boundary.encode("ascii") in content for _, content in pieces):
        boundary = uuid.uuid4().hex
    dash = f"--{boundary}".encode("ascii")
    body = b"".join(dash + b"\r\n" + head + b"\r\n" + content + b"\r\n" for head, content in pieces)
    return body + dash + b"--\r\n", f"multipart/mixed; boundary={boundary}"
