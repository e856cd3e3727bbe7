"""Request bodies → validated statements as plain JSON dictionaries, under the rules of the
request's xAPI version.

Why one `TypeAdapter` call per request: pydantic-core parses and validates the whole batch
from bytes in Rust, with no intermediate Python objects from `json.loads`. Statements then
travel as dictionaries (what the store indexes and serialises) dumped in the same single call.
The adapters of both versions are built once, at import.

Why `dump_python` in Python mode: the models hold only JSON types, so both modes give the same
dictionaries, except that JSON mode turns a NaN or an infinity inside extensions (free JSON,
where pydantic's parser accepts `NaN` and reads `1e999` as infinity) into `null`, silently
changing the statement. Kept as floats, they reach `statement_batch`, which refuses them with
their path.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from vigie.lrs.errors import BadRequest, describe
from vigie.lrs.models import Statement, StatementV2
from vigie.lrs.versions import XapiVersion

__all__ = ["parse_statement_body", "validate_statements"]

_ONE: Final[dict[XapiVersion, TypeAdapter[Any]]] = {
    "1.0.3": TypeAdapter(Statement), "2.0.0": TypeAdapter(StatementV2),
}
_MANY: Final[dict[XapiVersion, TypeAdapter[Any]]] = {
    "1.0.3": TypeAdapter(list[Statement]), "2.0.0": TypeAdapter(list[StatementV2]),
}


def parse_statement_body(
    body: bytes, version: XapiVersion = "1.0.3"
) -> tuple[list[dict[str, Any]], bool]:
    """Validates a PUT/POST body: one statement or an array of them.

    Returns the statements (JSON-ready dictionaries, single contextActivities turned into
    arrays, absent properties left absent) and whether the body was an array. Raises
    `BadRequest` whose message names the first offending fields.
    """
    head = body.lstrip()[:1]
    if not head:
        raise BadRequest("the request body is empty: send a statement or an array of statements")
    try:
        if head == b"[":
            many = _MANY[version]
            dumped: list[dict[str, Any]] = many.dump_python(many.validate_json(body))
            return dumped, True
        one = _ONE[version]
        return [one.dump_python(one.validate_json(body))], False
    except ValidationError as exc:
        if exc.errors()[0]["type"] in ("json_invalid", "json_type"):
            raise BadRequest(f"the body is not valid JSON: {exc.errors()[0]['msg']}") from None
        raise BadRequest(describe(exc)) from None


def validate_statements(
    statements: list[Any], version: XapiVersion = "1.0.3"
) -> list[dict[str, Any]]:
    """Validates already-parsed statements (imports, tests); same result as the body parser."""
    many = _MANY[version]
    try:
        validated = many.validate_python(statements)
    except ValidationError as exc:
        raise BadRequest(describe(exc)) from None
    result: list[dict[str, Any]] = many.dump_python(validated)
    return result
