"""Statements written for these tests, after the shapes of the xAPI 1.0.3 examples and of
Moodle's logstore_xapi output (values are ours: no real person, no copied file)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

MOODLE = "https://moodle.unicaen.example"


def learner(n: int = 1) -> dict[str, Any]:
    return {"name": f"Étudiant {n}", "account": {"homePage": MOODLE, "name": f"e{n:05d}"}}


def viewed(n: int = 1, course: int = 12, **extra: Any) -> dict[str, Any]:
    """A learner viewed a Moodle course (account actor, context category = the site)."""
    statement: dict[str, Any] = {
        "actor": learner(n),
        "verb": {
            "id": "http://id.tincanapi.com/verb/viewed",
            "display": {"fr-FR": "a consulté", "en": "viewed"},
        },
        "object": {
            "objectType": "Activity",
            "id": f"{MOODLE}/course/view.php?id={course}",
            "definition": {
                "name": {"fr-FR": f"Cours {course}", "en": f"Course {course}"},
                "type": "http://id.tincanapi.com/activitytype/lms/course",
            },
        },
        "context": {
            "platform": "Moodle",
            "language": "fr-FR",
            "contextActivities": {
                "category": [
                    {
                        "id": MOODLE,
                        "definition": {"type": "http://id.tincanapi.com/activitytype/lms"},
                    }
                ],
            },
            "extensions": {
                "http://lrs.example.org/ext/event": {"name": "course_viewed", "n": None}
            },
        },
        "timestamp": "2024-09-02T08:30:00.123+02:00",
    }
    statement.update(extra)
    return statement


def quiz_answer() -> dict[str, Any]:
    """A choice interaction answered, scored, with registration, team and instructor."""
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": "mailto:Etu.Dupont@Unicaen.example"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"fr": "a répondu"}},
        "object": {
            "id": f"{MOODLE}/mod/quiz/q/7",
            "definition": {
                "name": {"fr": "Question 7"},
                "description": {"fr": "Quelle couleur ?", "en": "Which colour?"},
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "interactionType": "choice",
                "correctResponsesPattern": ["bleu[,]rouge"],
                "choices": [
                    {"id": "bleu", "description": {"fr": "Bleu", "en": "Blue"}},
                    {"id": "rouge", "description": {"fr": "Rouge"}},
                    {"id": "vert", "description": {"fr": "Vert"}},
                ],
                "extensions": {"http://lrs.example.org/ext/points": 2},
            },
        },
        "result": {
            "score": {"scaled": 0.5, "raw": 1, "min": 0, "max": 2},
            "success": False,
            "completion": True,
            "response": "bleu",
            "duration": "PT1M12.5S",
        },
        "context": {
            "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
            "instructor": {"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"},
            "team": {"objectType": "Group", "name": "TD 3", "member": [learner(2), learner(3)]},
            "contextActivities": {
                "parent": {"id": f"{MOODLE}/mod/quiz/view.php?id=7"},
                "grouping": [{"id": f"{MOODLE}/course/view.php?id=12"}],
            },
            "revision": "2",
            "language": "fr",
            "statement": {
                "objectType": "StatementRef",
                "id": "9e13cefd-53d3-4eac-b5ed-2cf6693903bb",
            },
        },
        "timestamp": "2024-09-02T06:31:12Z",
        "version": "1.0.0",
    }


def all_valid() -> list[dict[str, Any]]:
    """Statements covering each kind of actor and object."""
    base = viewed()
    group_actor = copy.deepcopy(base)
    group_actor["actor"] = {
        "objectType": "Group",
        "name": "Binôme",
        "member": [learner(4), {"openid": "https://id.example.org/x"}],
    }
    identified = copy.deepcopy(base)
    identified["actor"] = {"objectType": "Group", "account": {"homePage": MOODLE, "name": "g-12"}}
    agent_object = viewed(
        verb={"id": "http://adlnet.gov/expapi/verbs/mentored"},
        object={"objectType": "Agent", "mbox": "mailto:a@b.example"},
    )
    agent_object["context"] = {"language": "fr"}
    ref = viewed(object={"objectType": "StatementRef", "id": str(uuid.uuid4())})
    ref.pop("context")
    sub = viewed(
        object={
            "objectType": "SubStatement",
            "actor": learner(5),
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": f"{MOODLE}/course/view.php?id=13"},
            "result": {"completion": True},
            "context": {"contextActivities": {"other": [{"id": "http://other.example/x"}]}},
        }
    )
    sub["verb"] = {"id": "http://adlnet.gov/expapi/verbs/planned"}
    sub["context"].pop("platform")
    minimal = {
        "actor": {"mbox": "mailto:x@y.example"},
        "verb": {"id": "urn:x:verb"},
        "object": {"id": "urn:x:act"},
    }
    attachment = viewed(
        attachments=[
            {
                "usageType": "http://adlnet.gov/expapi/attachments/signature",
                "display": {"fr": "Attestation"},
                "contentType": "application/pdf",
                "length": 1234,
                "sha2": "a" * 64,
                "fileUrl": "https://files.example.org/a.pdf",
            }
        ]
    )
    likert = quiz_answer()
    likert["object"]["definition"] = {
        "interactionType": "likert",
        "correctResponsesPattern": ["likert_3"],
        "scale": [{"id": "likert_0", "description": {"fr": "Pas du tout"}}, {"id": "likert_3"}],
    }
    matching = quiz_answer()
    matching["object"]["definition"] = {
        "interactionType": "matching",
        "source": [{"id": "a"}],
        "target": [{"id": "1"}],
        "correctResponsesPattern": ["a[.]1"],
    }
    return [
        base,
        quiz_answer(),
        group_actor,
        identified,
        agent_object,
        ref,
        sub,
        minimal,
        attachment,
        likert,
        matching,
    ]
