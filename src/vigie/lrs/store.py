"""What any statement store offers the LRS: atomic durable insert, get by id, filtered query.

Why a protocol: the embedded SQLite store (`vigie.lrs.sqlite_store`) serves one server per
university; the PostgreSQL store (`vigie.lrs.pg_store`) serves production and large
multi-tenant deployments behind the same three methods, and the HTTP layer and its tests do not
change (`vigie.lrs.backend` opens either).

A query is a `StatementQuery`; its continuation (`more`) is the same query plus a cursor,
serialised as an opaque URL-safe token, so any store can page without server-side state.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol

from vigie.lrs.errors import BadRequest

__all__ = [
    "TENANT_PATTERN",
    "Format",
    "StatementQuery",
    "StatementStore",
    "check_tenant",
]

Format = Literal["ids", "exact", "canonical"]
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def check_tenant(tenant: str) -> str:
    """Tenant names become file names: only lowercase letters, digits, `-` and `_`."""
    if not TENANT_PATTERN.match(tenant):
        raise ValueError(
            f"tenant {tenant!r}: use 1 to 63 lowercase letters, digits, '-' or '_' "
            "(starting with a letter or digit)"
        )
    return tenant


@dataclass(frozen=True)
class StatementQuery:
    """The filters of GET /statements (xAPI Communication 2.1.3), agents as identifier keys.

    `agent` is `formats.agent_key(...)` of the requested Agent or Group; `since`/`until` are
    UTC timestamps as written by `formats.utc_timestamp`. `authority` restricts to statements
    written with one credential (scope `statements/read/mine`) and never enters the token:
    the server sets it again from the credential on every page.
    """

    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: str | None = None
    until: str | None = None
    limit: int = 0
    ascending: bool = False
    format: Format = "exact"
    languages: tuple[str, ...] = ()
    authority: str | None = field(default=None, compare=False)
    after: int | None = None  # cursor: last position returned
    bound: int | None = None  # consistency: last position visible when the query began

    def token(self) -> str:
        """The continuation as an opaque string for the `more` link."""
        defaults = asdict(StatementQuery())
        data = {k: v for k, v in asdict(self).items() if k != "authority" and v != defaults[k]}
        if "languages" in data:
            data["languages"] = list(self.languages)
        text = json.dumps(data, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> StatementQuery:
        """Reads back a continuation; a damaged token is a 400, not a crash."""
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if not isinstance(data, dict) or "authority" in data:
                raise TypeError("not a continuation")
            data["languages"] = tuple(data.get("languages", ()))
            return replace(cls(), **data)
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
            raise BadRequest("more: not a continuation token issued by this LRS") from None


class StatementStore(Protocol):
    """Storage of statements, one isolated space per tenant."""

    def insert(self, statements: list[dict[str, Any]], *, tenant: str) -> list[str]:
        """Stores validated statements atomically and durably; returns their ids in order.

        Sets `id` (when absent), `stored` and `version` (when absent). A statement whose id
        is already stored is a no-op when equal (xAPI comparison rules) and a `Conflict`
        otherwise; a batch repeating an id or voiding a voiding statement is a `BadRequest`.
        Nothing is stored unless everything is.
        """
        ...

    def submit(
        self, statements: list[dict[str, Any]], attachments: Mapping[str, bytes], *, tenant: str
    ) -> Future[list[str]]:
        """`insert`, with attachment contents (lowercase sha2 → bytes, possibly none) in the
        same transaction, without blocking: the future gives the ids once they are durable,
        or the `LrsError` refusing the statements. What the HTTP layer calls, so that the
        event loop keeps serving while the tenant's writer commits (`group_commit`)."""
        ...

    def get(self, statement_id: str, *, tenant: str, voided: bool = False) -> dict[str, Any]:
        """One statement by id; with `voided`, only a voided one (voidedStatementId).

        Raises `NotFound` when absent, or when voided (resp. not voided).
        """
        ...

    def query(
        self, query: StatementQuery, *, tenant: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Statements matching the filters, not voided, newest first unless ascending;
        with the continuation token when more remain."""
        ...

    def consistent_through(self, *, tenant: str, bound: int | None = None) -> str:
        """A `stored` time such that every statement stored at or before it (at a position up
        to `bound`, when given: a continuation's) is visible to the queries that follow
        (`statement_query.consistency_sql`)."""
        ...

    def close(self) -> None:
        """Releases connections and files."""
        ...
