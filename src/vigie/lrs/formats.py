"""Statement shapes derived from a stored statement: identifier keys, `ids` and `canonical`
formats, and the comparison form used for immutability (xAPI Data 2.3.1, Communication 2.1.3).

Why plain functions over dictionaries: stored statements are read back as JSON, and these
transformations only touch a few properties; building models again would cost more than
the work itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from vigie.lrs.jsontext import json_text

__all__ = [
    "agent_key",
    "canonical_format",
    "comparison_digest",
    "comparison_form",
    "ids_format",
    "legacy_comparison_digest",
    "pick_language",
    "utc_timestamp",
    "with_utc_timestamps",
]

_IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


def agent_key(agent: dict[str, Any]) -> str | None:
    """The inverse functional identifier of an Agent or identified Group, as one string.

    `mbox:mailto:x@y`, `mbox_sha1sum:<hex>`, `openid:<iri>`, `account:<homePage> <name>`;
    None for an anonymous Group. The e-mail domain is case-insensitive, so it is lowered.
    """
    if "mbox" in agent:
        local, _, domain = str(agent["mbox"]).partition("@")
        return f"mbox:{local}@{domain.lower()}"
    if "mbox_sha1sum" in agent:
        return f"mbox_sha1sum:{str(agent['mbox_sha1sum']).lower()}"
    if "openid" in agent:
        return f"openid:{agent['openid']}"
    if "account" in agent:
        account = agent["account"]
        return f"account:{account['homePage']} {account['name']}"
    return None


def _ids_agent(agent: dict[str, Any]) -> dict[str, Any]:
    kept = {key: agent[key] for key in ("objectType", *_IFIS) if key in agent}
    if "member" in agent and agent_key(agent) is None:
        kept["member"] = [_ids_agent(member) for member in agent["member"]]
    return kept


def _ids_activity(activity: dict[str, Any]) -> dict[str, Any]:
    return {"id": activity["id"]}


def _ids_object(obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        return _ids_activity(obj)
    if kind in ("Agent", "Group"):
        return _ids_agent(obj)
    if kind == "SubStatement":
        return _ids_statement(obj)
    return obj


def _ids_statement(statement: dict[str, Any]) -> dict[str, Any]:
    out = dict(statement)
    out["actor"] = _ids_agent(statement["actor"])
    out["verb"] = {"id": statement["verb"]["id"]}
    out["object"] = _ids_object(statement["object"])
    if "authority" in statement:
        out["authority"] = _ids_agent(statement["authority"])
    context = statement.get("context")
    if context:
        context = dict(context)
        for key in ("instructor", "team"):
            if key in context:
                context[key] = _ids_agent(context[key])
        if "contextActivities" in context:
            context["contextActivities"] = {
                key: [_ids_activity(activity) for activity in activities]
                for key, activities in context["contextActivities"].items()
            }
        for key, role in (("contextAgents", "agent"), ("contextGroups", "group")):  # 2.0.0
            if key in context:
                context[key] = [{**item, role: _ids_agent(item[role])} for item in context[key]]
        out["context"] = context
    return out


def ids_format(statement: dict[str, Any]) -> dict[str, Any]:
    """Only what identifies Agents, Groups, Activities and Verbs (format=ids)."""
    return _ids_statement(statement)


def pick_language(languages: tuple[str, ...], available: list[str]) -> str | None:
    """The entry of a language map to keep for the client's Accept-Language preferences.

    An exact tag wins, then a tag sharing the primary subtag (`fr` for `fr-CA`), then `*`'s
    first entry; with no acceptable language, the map's first entry rather than nothing.
    """
    if not available:
        return None
    lowered = {tag.lower(): tag for tag in available}
    for wanted in languages:
        wanted = wanted.lower()
        if wanted == "*":
            return available[0]
        if wanted in lowered:
            return lowered[wanted]
        primary = wanted.split("-")[0]
        for low, tag in lowered.items():
            if low.split("-")[0] == primary:
                return tag
    return available[0]


def _one_language(value: dict[str, str], languages: tuple[str, ...]) -> dict[str, str]:
    tag = pick_language(languages, list(value))
    return {} if tag is None else {tag: value[tag]}


def _canonical_activity(activity: dict[str, Any], languages: tuple[str, ...]) -> dict[str, Any]:
    definition = activity.get("definition")
    if not definition:
        return activity
    definition = dict(definition)
    for key in ("name", "description"):
        if key in definition:
            definition[key] = _one_language(definition[key], languages)
    for key in ("choices", "scale", "source", "target", "steps"):
        if key in definition:
            definition[key] = [
                {**component, "description": _one_language(component["description"], languages)}
                if "description" in component else component
                for component in definition[key]
            ]
    return {**activity, "definition": definition}


def canonical_format(statement: dict[str, Any], languages: tuple[str, ...]) -> dict[str, Any]:
    """One language per map in Verbs and Activities (format=canonical); Agents as received."""
    out = dict(statement)
    verb = statement["verb"]
    if "display" in verb:
        out["verb"] = {**verb, "display": _one_language(verb["display"], languages)}
    obj = statement["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        out["object"] = _canonical_activity(obj, languages)
    elif kind == "SubStatement":
        out["object"] = canonical_format(obj, languages)
    context = statement.get("context")
    if context and "contextActivities" in context:
        out["context"] = {
            **context,
            "contextActivities": {
                key: [_canonical_activity(activity, languages) for activity in activities]
                for key, activities in context["contextActivities"].items()
            },
        }
    return out


def utc_timestamp(value: str) -> str:
    """Any accepted ISO 8601 timestamp → `YYYY-MM-DDTHH:MM:SS.ffffffZ` (sortable as text)."""
    moment = datetime.fromisoformat(value.replace(",", "."))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def with_utc_timestamps(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement with its `timestamp`, and its SubStatement's, in UTC when they had another
    offset: `2023-05-04T12:00:00-05:00` → `2023-05-04T17:00:00.000Z`, at the millisecond
    precision an LRS may keep (the same instant, so comparisons are unaffected)."""
    out = dict(statement)
    timestamp = out.get("timestamp")
    if timestamp is not None and not timestamp.endswith("Z"):
        out["timestamp"] = utc_timestamp(timestamp)[:23] + "Z"
    if out["object"].get("objectType") == "SubStatement":
        out["object"] = with_utc_timestamps(out["object"])
    return out


_SECONDS = re.compile(r"([0-9]+)(?:[.,]([0-9]+))?S$")


def _hundredths(duration: str) -> str:
    """A duration with its seconds at exactly 0.01 s precision, truncated: `PT1.2345S` and
    `PT1.23S` compare equal (1.0.3 Data 4.6, 2.0.0 section 4.2.7)."""
    return _SECONDS.sub(
        lambda m: f"{m.group(1)}.{(m.group(2) or '')[:2].ljust(2, '0')}S", duration
    )


def _lower_domain(mbox: str) -> str:
    local, _, domain = mbox.partition("@")
    return f"{local}@{domain.lower()}"


def _comparable_agent(agent: dict[str, Any]) -> dict[str, Any]:
    """An Agent or Group with its e-mail domains lowered and its members in a fixed order."""
    out = agent
    if "mbox" in agent:
        out = {**agent, "mbox": _lower_domain(agent["mbox"])}
    if "member" in agent:
        members = [_comparable_agent(member) for member in agent["member"]]
        members.sort(key=lambda member: json_text(member, sort_keys=True))
        out = {**out, "member": members}
    return out


def _comparable_statement(statement: dict[str, Any]) -> dict[str, Any]:
    """What immutability compares (xAPI Data 2.3.1): Group members in any order, timestamps
    as instants at millisecond precision, e-mail domains in any case, durations at 0.01 s.

    Only the properties a validated statement may hold these values in are visited (agents,
    timestamps, the result's duration), so the cost does not grow with the rest of the
    statement; extensions are free JSON and are compared as they are.
    """
    out = dict(statement)
    out["actor"] = _comparable_agent(statement["actor"])
    obj = statement["object"]
    kind = obj.get("objectType", "Activity")
    if kind in ("Agent", "Group"):
        out["object"] = _comparable_agent(obj)
    elif kind == "SubStatement":
        out["object"] = _comparable_statement(obj)
    if "timestamp" in statement:
        out["timestamp"] = utc_timestamp(statement["timestamp"])[:23]
    result = statement.get("result")
    if result is not None and "duration" in result:
        out["result"] = {**result, "duration": _hundredths(result["duration"])}
    context = statement.get("context")
    if context is not None:
        context = dict(context)
        for role in ("instructor", "team"):
            if role in context:
                context[role] = _comparable_agent(context[role])
        for key, role in (("contextAgents", "agent"), ("contextGroups", "group")):  # 2.0.0
            if key in context:
                context[key] = [
                    {**item, role: _comparable_agent(item[role])} for item in context[key]
                ]
        out["context"] = context
    return out


def comparison_form(statement: dict[str, Any]) -> bytes:
    """The statement as immutability compares it, as JSON text with sorted keys: equal for two
    statements that the specification says are the same.

    Ignored: `stored`, `authority`, `version` (set by the LRS) and attachments' raw data.
    """
    kept = {
        key: value for key, value in statement.items()
        if key not in ("stored", "authority", "version")
    }
    return json_text(_comparable_statement(kept), sort_keys=True)


def comparison_digest(statement: dict[str, Any]) -> str:
    """The SHA-256 of `comparison_form`, kept with each stored statement."""
    return hashlib.sha256(comparison_form(statement)).hexdigest()


def _legacy_comparable(value: Any, key: str = "") -> Any:
    if key == "extensions":
        return value
    if isinstance(value, dict):
        out = {k: _legacy_comparable(v, k) for k, v in value.items()}
        if "mbox" in out and isinstance(out["mbox"], str):
            out["mbox"] = _lower_domain(out["mbox"])
        return out
    if isinstance(value, list):
        items = [_legacy_comparable(item) for item in value]
        if key == "member":
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
        return items
    if key == "timestamp" and isinstance(value, str):
        return utc_timestamp(value)[:23]
    if key == "duration" and isinstance(value, str):
        return _hundredths(value)
    return value


def legacy_comparison_digest(statement: dict[str, Any]) -> str:
    """The comparison digest of stores written before `comparison_digest` used orjson (the
    same rules, through the standard `json` module, which writes other bytes). A statement
    sent again must still be found equal to the copy such a store holds: `plan_batch` falls
    back to this digest when the current one differs from the stored one."""
    kept = {
        key: value for key, value in statement.items()
        if key not in ("stored", "authority", "version")
    }
    text = json.dumps(_legacy_comparable(kept), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
