"""What storing a batch of statements means, whatever the database: the rules, not the SQL.

Why apart from the stores: the embedded SQLite store and the PostgreSQL store must behave the
same to the byte (ids, conflicts, voiding rules, `stored` times, the filter index), and this
is where that behaviour lives. A store reads, in its write transaction and under its per-tenant
write lock, the little that a batch depends on (`StoredState`: the batch's ids and targets
already stored, their index rows, the statements targeting the batch, the last `seq` and
`stored`), calls `plan_batch`, and writes the `BatchPlan` it returns with its own set-based SQL.
What does not depend on the store (ids, comparison digests, index rows) is computed before, by
`prepare_batch`, so that the write lock is held for as little work as possible.

Filters are indexed through (kind, value, broad, seq) rows: `verb`, `registration`, `agent`
and `activity` values of each statement; `broad` marks the values only matched with
`related_agents` / `related_activities` (authority, instructor, team, the 2.0.0 contextAgents
and contextGroups, context activities, anything in a SubStatement). A statement whose object
is a StatementRef inherits the rows of the statement it targets, which implements the "filter
conditions for StatementRefs" rule with plain index lookups: when the target is stored first,
the referrer copies its rows (its inherited ones included); when the referrer is stored first,
it receives the target's rows when the target arrives (one level).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from vigie.lrs.errors import BadRequest, Conflict
from vigie.lrs.formats import agent_key, comparison_form, legacy_comparison_digest
from vigie.lrs.jsontext import json_text
from vigie.lrs.models import VOIDED

__all__ = [
    "BatchPlan",
    "Incoming",
    "Key",
    "NewStatement",
    "StoredState",
    "StoredStatement",
    "batch_refs",
    "index_value",
    "iso",
    "new_statement_id",
    "own_keys",
    "plan_batch",
    "prepare_batch",
]

Key = tuple[str, str, bool]  # (kind, value, broad)

#: Longer filter values are indexed by digest: a PostgreSQL B-tree entry holds about 2.7 kB.
MAX_INDEXED_BYTES = 1024
_ONE_MICROSECOND = timedelta(microseconds=1)


def iso(moment: datetime) -> str:
    """`stored` as written in statements: UTC, microseconds, `Z` (sortable as text).

    Every statement of a batch gets one, a microsecond apart: the text up to the second is
    formatted once per second (`strftime` costs more than the rest of planning a statement).
    """
    utc = moment.astimezone(UTC)
    return f"{_second(utc.replace(microsecond=0))}{utc.microsecond:06d}Z"


@lru_cache(maxsize=16)
def _second(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.")


def index_value(value: str) -> str:
    """The indexed form of a filter value: itself, or `#sha256:<hex>` beyond 1 KiB of UTF-8
    or when it holds U+0000 (a PostgreSQL B-tree entry holds about 2.7 kB, and PostgreSQL text
    cannot hold U+0000; the IRI and account name patterns let it through).

    IRIs, agent keys (`mbox:…`, `account:…`) and registrations start with a letter or digit,
    so a digest never equals a real value; queries pass their value through the same function.
    """
    encoded = value.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_INDEXED_BYTES and "\x00" not in value:
        return value
    return "#sha256:" + hashlib.sha256(encoded).hexdigest()


def _non_finite(value: Any, path: str = "") -> str | None:
    """The path of the first NaN or infinite number in a JSON value, if any (error path only)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ()
    )
    for key, item in items:
        where = f"{path}[{key}]" if isinstance(key, int) else (
            f"{path}.{key}" if path else str(key)
        )
        found = _non_finite(item, where)
        if found is not None:
            return found
    return None


def _agents(agent: dict[str, Any]) -> Iterator[str]:
    """The identifier of an Agent or Group, and those of a Group's members."""
    key = agent_key(agent)
    if key is not None:
        yield key
    for member in agent.get("member", ()):
        member_key = agent_key(member)
        if member_key is not None:
            yield member_key


def _index_rows(statement: dict[str, Any], sub: bool = False) -> Iterator[tuple[str, str, int]]:
    """(kind, value, broad) rows of a statement; a SubStatement's are all broad."""
    narrow = 1 if sub else 0
    if not sub:
        yield "verb", statement["verb"]["id"], 0
    for key in _agents(statement["actor"]):
        yield "agent", key, narrow
    obj = statement["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        yield "activity", obj["id"], narrow
    elif kind in ("Agent", "Group"):
        for key in _agents(obj):
            yield "agent", key, narrow
    elif kind == "SubStatement":
        yield from _index_rows(obj, sub=True)
    if "authority" in statement:
        for key in _agents(statement["authority"]):
            yield "agent", key, 1
    context = statement.get("context") or {}
    if "registration" in context and not sub:
        yield "registration", context["registration"].lower(), 0
    for role in ("instructor", "team"):
        if role in context:
            for key in _agents(context[role]):
                yield "agent", key, 1
    for key, role in (("contextAgents", "agent"), ("contextGroups", "group")):  # 2.0.0
        for item in context.get(key, ()):
            for agent in _agents(item[role]):
                yield "agent", agent, 1
    for activities in (context.get("contextActivities") or {}).values():
        for activity in activities:
            yield "activity", activity["id"], 1


def own_keys(statement: dict[str, Any]) -> frozenset[Key]:
    """The index rows a statement has of itself, whatever it inherits as a StatementRef."""
    rows = _index_rows(statement)
    return frozenset((kind, index_value(value), bool(broad)) for kind, value, broad in rows)


def _ref(statement: dict[str, Any]) -> str | None:
    obj = statement["object"]
    return str(obj["id"]).lower() if obj.get("objectType") == "StatementRef" else None


@dataclass(frozen=True)
class Incoming:
    """A statement of a batch with what is known of it before looking at the store: its
    lowercase id, comparison digest, StatementRef target, own index rows, indexed authority,
    and its stored JSON text but for `stored` (`head`: see `stored_body`)."""

    id: str
    statement: dict[str, Any]
    digest: str
    ref: str | None
    is_voiding: bool
    keys: frozenset[Key]
    authority: str | None
    head: str

    def stored_body(self, stored_at: str) -> str:
        """The statement's stored JSON text: `head` closed with `stored` (and `timestamp`,
        when the statement has none: Data 2.4.7, "set to the value of stored").

        Why text is spliced: the `stored` time is only known in the write transaction, under
        the tenant's writer lock, which every process's writes wait for; writing the rest of
        the JSON before taking it keeps that work out of the section that runs one at a time.
        """
        timestamp = "" if "timestamp" in self.statement else f',"timestamp":"{stored_at}"'
        return f'{self.head},"stored":"{stored_at}"{timestamp}}}'


def _digest(statement: dict[str, Any]) -> str:
    """The comparison digest of a statement about to be stored; a statement holding NaN or an
    infinity (`1e999` parses as one) is refused here: JSON cannot write it, and stored it
    would break every read. orjson writes those numbers as `null`, which a statement only
    holds in extensions, so the full search runs only when the text has a `null`."""
    try:
        form: bytes | None = comparison_form(statement)
    except ValueError:  # the standard module, writing what orjson could not, met one
        form = None
    if form is None or b"null" in form:
        where = _non_finite(statement)
        if where is not None:
            raise BadRequest(
                f"{where}: must be a finite number (NaN, Infinity and numbers beyond "
                "±1.8e308 are not JSON numbers)"
            )
    assert form is not None, "only a non-finite number stops the comparison form"
    return hashlib.sha256(form).hexdigest()


def _body_text(body: dict[str, Any]) -> str:
    """The stored JSON text of a statement (its numbers were checked by `_digest`)."""
    return json_text(body).decode("utf-8", "surrogatepass")


def new_statement_id() -> str:
    """The id given to a statement sent without one: a UUID of version 7 (RFC 9562), the Unix
    time in milliseconds in its first 48 bits, then 74 random bits.

    Why not version 4: the stores index statements by id in a B-tree, where random ids each
    land on a different leaf (at 10 M statements, a leaf read and rewritten per statement,
    anywhere in hundreds of megabytes), and ids that start with the time land on its last
    leaves. Moodle's logstore_xapi sends its statements without ids. xAPI accepts every UUID
    of the RFC 4122 variant (Data 2.4.1, 4.5), which version 7 is.
    """
    milliseconds = time.time_ns() // 1_000_000 & (1 << 48) - 1
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits: 12 + 62 used
    value = (milliseconds << 80 | 0x7 << 76 | (random >> 68) << 64
             | 0b10 << 62 | random & (1 << 62) - 1)
    return str(uuid.UUID(int=value))


def prepare_batch(statements: Sequence[dict[str, Any]]) -> list[Incoming]:
    """The batch ready for `plan_batch`, new ids given to statements without one
    (`new_statement_id`); a repeated id or a non-finite number is a `BadRequest` (before any
    database work)."""
    ids = [str(s.get("id") or new_statement_id()).lower() for s in statements]
    if len(set(ids)) != len(ids):
        repeated = next(i for n, i in enumerate(ids) if i in ids[:n])
        raise BadRequest(f"id: the batch contains statement {repeated} more than once")
    return [_incoming(statement_id, statement)
            for statement_id, statement in zip(ids, statements, strict=True)]


def _incoming(statement_id: str, statement: dict[str, Any]) -> Incoming:
    body = {key: value for key, value in statement.items() if key != "stored"}
    body["id"] = statement_id
    body.setdefault("version", "1.0.0")
    digest = _digest(body)  # `stored` and `version` are not compared; refuses NaN first
    authority = statement.get("authority")
    authority_key = None if authority is None else agent_key(authority)
    return Incoming(
        id=statement_id, statement=statement, digest=digest, ref=_ref(statement),
        is_voiding=statement["verb"]["id"] == VOIDED, keys=own_keys(statement),
        authority=None if authority_key is None else index_value(authority_key),
        head=_body_text(body)[:-1],
    )


def batch_refs(batch: Sequence[Incoming]) -> list[str]:
    """The distinct statement ids the batch's StatementRefs target (voiding ones included)."""
    return list(dict.fromkeys(item.ref for item in batch if item.ref is not None))


@dataclass(frozen=True)
class StoredStatement:
    seq: int
    digest: str
    is_voiding: bool


@dataclass(frozen=True)
class StoredState:
    """What the tenant's store holds that a batch depends on, read in the write transaction.

    `statements`: the stored statements among the batch's ids and `batch_refs`;
    `target_keys`: the index rows of those targets, by seq; `referrers`: (seq, ref) of stored
    statements whose StatementRef targets an id of the batch; `last_seq` and `last_stored`:
    those of the newest stored statement (0 and None when there is none).
    """

    statements: Mapping[str, StoredStatement]
    target_keys: Mapping[int, set[Key]]
    referrers: Sequence[tuple[int, str]]
    last_seq: int
    last_stored: datetime | None


@dataclass(frozen=True)
class NewStatement:
    """One row of the statements table to insert (`voided` starts false)."""

    seq: int
    id: str
    stored: str
    ref: str | None
    is_voiding: bool
    authority: str | None
    digest: str
    body: str


@dataclass(frozen=True)
class BatchPlan:
    """The writes of a batch: new statements (in `seq` order), index rows to add (duplicates of
    stored rows are to be ignored), and the ids whose `voided` flag must be recomputed."""

    statements: list[NewStatement]
    keys: list[tuple[str, str, bool, int]]
    void_candidates: list[str]


def _same_content(stored: StoredStatement, item: Incoming) -> bool:
    """Whether the stored statement with `item`'s id is `item` under the comparison rules: a
    store written before the current digest holds the legacy one (`formats`)."""
    if stored.digest == item.digest:
        return True
    return stored.digest == legacy_comparison_digest({**item.statement, "id": item.id})


def _check_voiding(item: Incoming, voiding_in_batch: set[str], state: StoredState) -> None:
    if not item.is_voiding:
        return
    target = item.statement["object"]["id"].lower()
    stored = state.statements.get(target)
    if target in voiding_in_batch or (stored is not None and stored.is_voiding):
        raise BadRequest(
            f"object.id: statement {target} is itself a voiding statement and cannot be voided"
        )


def plan_batch(batch: Sequence[Incoming], state: StoredState, now: datetime) -> BatchPlan:
    """The writes that store the batch over `state`.

    A statement already stored is a no-op when equal (xAPI comparison rules) and a `Conflict`
    otherwise; voiding a voiding statement, or a number JSON cannot write, is a `BadRequest`;
    errors are raised for the first offending statement, in batch order. `stored` times are
    strictly increasing from `last_stored`, so stored order is `seq` order.
    """
    voiding_in_batch = {item.id for item in batch if item.is_voiding}
    seq, last = state.last_seq, state.last_stored
    seq_of = {statement_id: found.seq for statement_id, found in state.statements.items()}
    keys: dict[int, set[Key]] = {n: set(rows) for n, rows in state.target_keys.items()}
    referrers: dict[str, list[int]] = {}
    for referrer, target in state.referrers:
        referrers.setdefault(target, []).append(referrer)
    first_new = seq + 1
    rows: list[NewStatement] = []
    voiding_targets: list[str] = []
    for item in batch:
        found = state.statements.get(item.id)
        if found is not None:
            if not _same_content(found, item):
                raise Conflict(
                    f"id: statement {item.id} is already stored with a different "
                    "content; statements are immutable"
                )
            continue
        _check_voiding(item, voiding_in_batch, state)
        seq += 1
        moment = now if last is None else max(now, last + _ONE_MICROSECOND)
        last = moment
        stored_at = iso(moment)
        if item.is_voiding and item.ref is not None:
            voiding_targets.append(item.ref)
        rows.append(NewStatement(
            seq=seq, id=item.id, stored=stored_at, ref=item.ref, is_voiding=item.is_voiding,
            authority=item.authority, digest=item.digest, body=item.stored_body(stored_at),
        ))
        current = keys[seq] = set(item.keys)
        if item.ref is not None and item.ref in seq_of:  # it matches what its target matches
            current |= keys.get(seq_of[item.ref], set())
        for referrer in referrers.get(item.id, ()):  # and so do those stored before it
            keys.setdefault(referrer, set()).update(current)
        if item.ref is not None:
            referrers.setdefault(item.ref, []).append(seq)
        seq_of[item.id] = seq
    # A stored referrer's rows are written whole (the store ignores those it has): besides
    # what it received here, `keys` only knows the rows it has when it is also a target.
    changed = {referrer for referrer, _ in state.referrers}
    written = [
        (kind, value, broad, n)
        for n in sorted(keys)
        if n >= first_new or n in changed
        for kind, value, broad in keys[n]
    ]
    # Voided now: a new statement some stored statement targets (voiding, or not: the UPDATE
    # checks), and a target of a new voiding statement; not every new statement, which would
    # cost a lookup each.
    targeted = {target for _, target in state.referrers}
    new_targets = [row.id for row in rows if row.id in targeted]
    return BatchPlan(rows, written, list(dict.fromkeys([*new_targets, *voiding_targets])))
