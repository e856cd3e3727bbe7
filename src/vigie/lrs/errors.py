"""Errors of the LRS, and the translation of pydantic errors into messages naming the field.

Why translate: a Learning Record Provider developer reading a 400 needs the path of the
offending property in xAPI terms (`actor.mbox: must start with 'mailto:'`), not pydantic's
internal union tags or regular expressions. The translation only runs on the error path, so
the fast path (valid statements) pays nothing for it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from vigie.lrs import models

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "LrsError",
    "NotFound",
    "PayloadTooLarge",
    "describe",
    "describe_error",
]


class LrsError(Exception):
    """An error answered to the client with `status` and a message saying what to fix."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(LrsError):
    status = 400


class Conflict(LrsError):
    status = 409


class Forbidden(LrsError):
    status = 403


class NotFound(LrsError):
    status = 404


class PayloadTooLarge(LrsError):
    status = 413


PATTERN_MESSAGES: dict[str, str] = {
    models.IRI_PATTERN: "must be an IRI with a scheme (e.g. https://example.org/x)",
    models.MAILTO_PATTERN: "must start with 'mailto:' followed by an e-mail address",
    models.SHA1_PATTERN: "must be a SHA-1 hash (40 hexadecimal characters)",
    models.SHA2_PATTERN: "must be a SHA-2 hash (56, 64, 96 or 128 hexadecimal characters)",
    models.UUID_PATTERN: "must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
    models.VERSION_PATTERN: "must be 1.0 or 1.0.x (e.g. 1.0.3)",
    models.VERSION_PATTERN_V2: "must be 1.0, 1.0.x, 2.0 or 2.0.x (e.g. 2.0.0)",
    models.MEDIA_TYPE_PATTERN: "must be an Internet media type (e.g. application/pdf)",
    models.LANGUAGE_TAG_PATTERN: "must be an RFC 5646 language tag (e.g. fr-FR)",
    models.TIMESTAMP_PATTERN: (
        "must be an ISO 8601 timestamp with a time zone (e.g. 2024-09-02T08:30:00.000Z)"
    ),
    models.TIMESTAMP_PATTERN_V2: (
        "must be an RFC 3339 timestamp with a time zone (e.g. 2024-09-02T08:30:00.000Z)"
    ),
    models.DURATION_PATTERN: "must be an ISO 8601 duration (e.g. PT1H30M or P2W)",
}

TYPE_MESSAGES: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not an allowed property here",
    "string_type": "must be a string",
    "bool_type": "must be a boolean (true or false)",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
    "json_invalid": "is not valid JSON",
    "json_type": "is not valid JSON",
}


def _path(loc: tuple[int | str, ...]) -> str:
    """`('actor', 'Agent', 'mbox')` → `actor.mbox`; union tags are dropped, indexes bracketed."""
    tags = {"Agent", "Group", "Activity", "StatementRef", "SubStatement", "int", "float"}
    parts: list[str] = []
    for index, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item == "[key]":
            parts.append(" (key)")
        elif item in tags and not _is_key(loc, index):
            continue
        elif _is_key(loc, index):
            parts.append(f"[{item!r}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def _is_key(loc: tuple[int | str, ...], index: int) -> bool:
    """A language map or extensions key: the item just after `display`, `extensions`…

    `name` is both a plain string (Agent) and a language map (Activity definition): it is a
    map only when something follows the key (the `[key]` marker or the value's error).
    """
    before = loc[index - 1] if index > 0 else None
    if before in ("display", "description", "extensions"):
        return True
    return before == "name" and index + 1 < len(loc)


def describe_error(error: ErrorDetails, prefix: str = "") -> str:
    """One pydantic error as `path: message`."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "string_pattern_mismatch":
        message = PATTERN_MESSAGES.get(str(ctx.get("pattern")), error["msg"])
    elif kind == "literal_error":
        message = f"must be {ctx.get('expected')} (case-sensitive)"
    elif kind in ("value_error", "assertion_error"):
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    elif kind in ("greater_than_equal", "less_than_equal"):
        message = error["msg"].replace("Input should be", "must be")
    else:
        message = TYPE_MESSAGES.get(kind, error["msg"])
    if kind.endswith("_type") and error.get("input", ...) is None:
        message = "must not be null"
    path = _path(tuple(error["loc"]))
    if prefix:
        path = f"{prefix}.{path}" if path and not path.startswith("[") else f"{prefix}{path}"
    return f"{path or 'statement'}: {message}"


def describe(exc: ValidationError, prefix: str = "", limit: int = 5) -> str:
    """The first `limit` errors, most specific first, joined by `; `."""
    errors = exc.errors(include_url=False)
    lines = list(dict.fromkeys(describe_error(error, prefix) for error in errors))
    more = f" (and {len(lines) - limit} more)" if len(lines) > limit else ""
    return "; ".join(lines[:limit]) + more
