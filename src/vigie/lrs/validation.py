"""Request bodies → validated statements as plain JSON dictionaries.

Why one `TypeAdapter` call per request: pydantic-core parses and validates the whole batch
from bytes in Rust, with no intermediate Python objects from `json.loads`. Statements then
travel as dictionaries (what the store indexes and serialises) dumped in the same single call.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from vigie.lrs.errors import BadRequest, describe
from vigie.lrs.models import Statement

__all__ = ["parse_statement_body", "validate_statements"]

_ONE: TypeAdapter[Statement] = TypeAdapter(Statement)
_MANY: TypeAdapter[list[Statement]] = TypeAdapter(list[Statement])


def parse_statement_body(body: bytes) -> tuple[list[dict[str, Any]], bool]:
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
            statements = _MANY.validate_json(body)
            dumped: list[dict[str, Any]] = _MANY.dump_python(statements, mode="json")
            return dumped, True
        statement = _ONE.validate_json(body)
        return [_ONE.dump_python(statement, mode="json")], False
    except ValidationError as exc:
        if exc.errors()[0]["type"] in ("json_invalid", "json_type"):
            raise BadRequest(f"the body is not valid JSON: {exc.errors()[0]['msg']}") from None
        raise BadRequest(describe(exc)) from None


def validate_statements(statements: list[Any]) -> list[dict[str, Any]]:
    """Validates already-parsed statements (imports, tests); same result as the body parser."""
    try:
        validated = _MANY.validate_python(statements)
    except ValidationError as exc:
        raise BadRequest(describe(exc)) from None
    result: list[dict[str, Any]] = _MANY.dump_python(validated, mode="json")
    return result
