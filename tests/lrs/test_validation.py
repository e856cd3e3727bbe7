"""Statement validation: valid shapes pass, each invalid one is a 400 naming the field."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.lrs import statements as s
from vigie.lrs.errors import BadRequest
from vigie.lrs.validation import parse_statement_body, validate_statements

DELETE = object()
REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "moodle-logstore_xapi"


def mutate(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """`viewed()` with the property at dotted `path` set to `value` (or deleted)."""
    statement = copy.deepcopy(base or s.viewed())
    *parents, last = path.split(".")
    node: Any = statement
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return statement


QUIZ = s.quiz_answer()
AGENT_OBJECT = s.all_valid()[4]
SUB = s.all_valid()[6]

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("actor missing", mutate("actor", DELETE), "actor: is required"),
    ("verb missing", mutate("verb", DELETE), "verb: is required"),
    ("object missing", mutate("object", DELETE), "object: is required"),
    ("actor null", mutate("actor", None), "actor"),
    ("context null", mutate("context", None), "context: must not be null"),
    (
        "mbox without mailto",
        mutate("actor", {"mbox": "a@b.fr"}),
        "actor.mbox: must start with 'mailto:'",
    ),
    (
        "two identifiers",
        mutate("actor.mbox", "mailto:a@b.fr"),
        "actor: an Agent must have exactly one",
    ),
    ("no identifier", mutate("actor", {"name": "x"}), "actor: an Agent must have exactly one"),
    (
        "sha1 too short",
        mutate("actor", {"mbox_sha1sum": "abc"}),
        "actor.mbox_sha1sum: must be a SHA-1",
    ),
    (
        "openid not an IRI",
        mutate("actor", {"openid": "not an iri"}),
        "actor.openid: must be an IRI",
    ),
    (
        "account homePage",
        mutate("actor.account.homePage", "moodle"),
        "actor.account.homePage: must be an IRI",
    ),
    (
        "account without name",
        mutate("actor.account.name", DELETE),
        "actor.account.name: is required",
    ),
    (
        "objectType case",
        mutate("actor.objectType", "agent"),
        "actor: objectType must be 'Agent' or 'Group'",
    ),
    (
        "anonymous group without members",
        mutate("actor", {"objectType": "Group", "name": "g"}),
        "actor: an anonymous Group",
    ),
    (
        "group in group",
        mutate(
            "actor",
            {"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@x.fr"}]},
        ),
        "actor.member[0].objectType",
    ),
    (
        "group without objectType member list",
        mutate("actor", {"member": [s.learner()]}),
        "actor.member: is not an allowed property",
    ),
    ("unknown actor property", mutate("actor.age", 20), "actor.age: is not an allowed property"),
    ("verb id not IRI", mutate("verb.id", "viewed"), "verb.id: must be an IRI"),
    ("verb id empty", mutate("verb.id", ""), "verb.id: must be an IRI"),
    (
        "display bad language",
        mutate("verb.display", {"fr_FR": "vu"}),
        "verb.display['fr_FR'] (key): must be an RFC 5646",
    ),
    (
        "display value not string",
        mutate("verb.display", {"fr": 3}),
        "verb.display['fr']: must be a string",
    ),
    ("object id not IRI", mutate("object.id", "course 12"), "object.id: must be an IRI"),
    (
        "object type unknown",
        mutate("object.objectType", "activity"),
        "object: objectType must be one of",
    ),
    (
        "definition type not IRI",
        mutate("object.definition.type", "course"),
        "object.definition.type: must be an IRI",
    ),
    (
        "moreInfo not IRL",
        mutate("object.definition.moreInfo", "x"),
        "object.definition.moreInfo: must be an IRI",
    ),
    (
        "definition name bad key",
        mutate("object.definition.name", {"français": "x"}),
        "object.definition.name['français'] (key)",
    ),
    (
        "interaction type unknown",
        mutate("object.definition.interactionType", "multiple", QUIZ),
        "object.definition.interactionType: must be",
    ),
    (
        "choices for true-false",
        mutate("object.definition.interactionType", "true-false", QUIZ),
        "choices is not allowed for interactionType 'true-false'",
    ),
    (
        "duplicate choice ids",
        mutate("object.definition.choices.1.id", "bleu", QUIZ),
        "interaction component ids must be distinct",
    ),
    (
        "pattern without type",
        mutate("object.definition.correctResponsesPattern", ["a"]),
        "correctResponsesPattern requires an interactionType",
    ),
    (
        "extension key not IRI",
        mutate("context.extensions", {"event": 1}),
        "context.extensions['event'] (key): must be an IRI",
    ),
    (
        "statementref bad id",
        mutate("object", {"objectType": "StatementRef", "id": "12"}),
        "object.id: must be a UUID",
    ),
    (
        "substatement with id",
        mutate("object.id", "6fbd6e2a-0d5c-4c3e-9a8b-2a4f0d1e2b3c", SUB),
        "object.id: is not an allowed property",
    ),
    (
        "substatement with stored",
        mutate("object.stored", "2024-01-01T00:00:00Z", SUB),
        "object.stored: is not an allowed property",
    ),
    (
        "nested substatement",
        mutate("object.object", copy.deepcopy(SUB["object"]), SUB),
        "object.object: objectType must be one of 'Activity', 'Agent', 'Group', 'StatementRef' "
        "(a SubStatement cannot",
    ),
    (
        "scaled above 1",
        mutate("result.score.scaled", 1.5, QUIZ),
        "result.score.scaled: must be less than or equal to 1",
    ),
    (
        "raw above max",
        mutate("result.score.raw", 3, QUIZ),
        "result.score: raw (3) must not be above max (2)",
    ),
    (
        "min above max",
        mutate("result.score.min", 5, QUIZ),
        "result.score: min (5) must not be greater than max (2)",
    ),
    ("score as string", mutate("result.score.raw", "1", QUIZ), "result.score.raw"),
    (
        "success as string",
        mutate("result.success", "true", QUIZ),
        "result.success: must be a boolean",
    ),
    (
        "duration not ISO",
        mutate("result.duration", "72s", QUIZ),
        "result.duration: must be an ISO 8601 duration",
    ),
    (
        "duration empty",
        mutate("result.duration", "PT", QUIZ),
        "result.duration: must have at least one component",
    ),
    (
        "registration not UUID",
        mutate("context.registration", "abc", QUIZ),
        "context.registration: must be a UUID",
    ),
    (
        "team is agent",
        mutate("context.team", s.learner(), QUIZ),
        "context.team.objectType: is required",
    ),
    (
        "context activity bad id",
        mutate("context.contextActivities.category", {"id": "x"}),
        "context.contextActivities.category[0].id: must be an IRI",
    ),
    (
        "context activities unknown key",
        mutate("context.contextActivities.sibling", []),
        "context.contextActivities.sibling: is not an allowed",
    ),
    (
        "revision with agent object",
        mutate("context.revision", "1", AGENT_OBJECT),
        "context.revision is only allowed when the object is an Activity",
    ),
    (
        "platform with agent object",
        mutate("context.platform", "Moodle", AGENT_OBJECT),
        "context.platform is only allowed when the object is an Activity",
    ),
    (
        "context language",
        mutate("context.language", "français"),
        "context.language: must be an RFC 5646",
    ),
    (
        "timestamp without zone",
        mutate("timestamp", "2024-09-02T08:30:00"),
        "timestamp: must be an ISO 8601 timestamp",
    ),
    (
        "timestamp negative zero",
        mutate("timestamp", "2024-09-02T08:30:00-00:00"),
        "timestamp: must not use the negative zero offset",
    ),
    (
        "timestamp impossible date",
        mutate("timestamp", "2024-02-30T08:30:00Z"),
        "timestamp: is not an existing date",
    ),
    ("id not UUID", mutate("id", "AA97B177-9383-4934-8543-0F91A7A028368"), "id: must be a UUID"),
    ("version 1.1", mutate("version", "1.1.0"), "version: must be 1.0 or 1.0.x"),
    (
        "voiding without StatementRef",
        mutate("verb", {"id": "http://adlnet.gov/expapi/verbs/voided"}),
        "a voiding statement (verb voided) must have a StatementRef object",
    ),
    (
        "attachment without sha2",
        mutate(
            "attachments",
            [
                {
                    "usageType": "http://x.org/u",
                    "display": {"fr": "a"},
                    "contentType": "text/plain",
                    "length": 1,
                    "fileUrl": "https://x.org/a",
                }
            ],
        ),
        "attachments[0].sha2: is required",
    ),
    (
        "attachment bad content type",
        mutate(
            "attachments",
            [
                {
                    "usageType": "http://x.org/u",
                    "display": {"fr": "a"},
                    "contentType": "pdf",
                    "length": 1,
                    "sha2": "b" * 64,
                    "fileUrl": "https://x.org/a",
                }
            ],
        ),
        "attachments[0].contentType: must be an Internet media type",
    ),
    ("unknown statement property", mutate("comment", "x"), "comment: is not an allowed property"),
]


@pytest.mark.parametrize(
    "statement", s.all_valid(), ids=lambda st: str(st["verb"]["id"]).rsplit("/", 1)[-1]
)
def test_valid_statements_pass(statement: dict[str, Any]) -> None:
    [parsed], is_array = parse_statement_body(json.dumps(statement).encode())
    assert not is_array
    assert parsed["actor"] == statement["actor"]


def test_context_activities_become_arrays_and_absent_properties_stay_absent() -> None:
    [parsed] = validate_statements([s.quiz_answer()])
    assert parsed["context"]["contextActivities"]["parent"] == [
        {"id": f"{s.MOODLE}/mod/quiz/view.php?id=7"}
    ]
    assert "objectType" not in parsed["object"]
    assert "extensions" not in parsed["context"]


def test_extensions_keep_nulls() -> None:
    [parsed] = validate_statements([s.viewed()])
    assert parsed["context"]["extensions"]["http://lrs.example.org/ext/event"]["n"] is None


@pytest.mark.parametrize(("case", "statement", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_statement_is_400_naming_the_field(
    client: TestClient, writer: dict[str, str], case: str, statement: dict[str, Any], message: str
) -> None:
    response = client.post("/xAPI/statements", json=statement, headers=writer)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"], response.json()["message"]


def test_batch_errors_name_the_statement_index() -> None:
    with pytest.raises(BadRequest, match=r"^\[1\]\.actor\.mbox: must start with 'mailto:'"):
        parse_statement_body(json.dumps([s.viewed(), mutate("actor", {"mbox": "x"})]).encode())


def test_invalid_json_and_empty_body_are_explained() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_statement_body(b'{"actor": ')
    with pytest.raises(BadRequest, match="body is empty"):
        parse_statement_body(b"  ")


def test_batch_of_100_validates_in_a_few_milliseconds() -> None:
    body = json.dumps([s.quiz_answer() for _ in range(100)]).encode()
    parse_statement_body(body)  # warm-up
    best = min(_timed(parse_statement_body, body) for _ in range(5))
    assert best < 0.025, f"{best * 1000:.1f} ms for 100 statements"


def _timed(function: Any, *args: Any) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real/moodle-logstore_xapi absent")
def test_real_moodle_logstore_statements_validate() -> None:
    files = sorted(REAL.rglob("statements.json"))
    assert files
    for path in files:
        parse_statement_body(path.read_bytes())
