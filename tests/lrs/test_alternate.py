"""The alternate request syntax: `POST ?method=X` with headers, parameters and body in a form."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi.testclient import TestClient

STATEMENT = {"actor": {"mbox": "mailto:learner@example.org"},
             "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
             "object": {"id": "http://example.org/activity/1"}}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def form(writer: dict[str, str], **fields: str) -> str:
    return urlencode({"Authorization": writer["Authorization"],
                      "X-Experience-API-Version": "1.0.3", **fields})


def test_lrs_alternate_put_then_get_a_statement(client: TestClient, writer: dict[str, str]) -> None:
    statement_id = "7c2b1f43-bd46-4b1b-8c5f-6d1a9e0e7c11"
    put = client.post("/xAPI/statements?method=PUT", headers=FORM,
                      content=form(writer, statementId=statement_id,
                                   **{"Content-Type": "application/json"},
                                   content=json.dumps(STATEMENT)))
    assert put.status_code == 204, put.text
    got = client.post("/xAPI/statements?method=GET", headers=FORM,
                      content=form(writer, statementId=statement_id))
    assert got.status_code == 200, got.text
    assert got.json()["id"] == statement_id
    assert "X-Experience-API-Consistent-Through" in got.headers


def test_lrs_alternate_state_document_round_trip(client: TestClient,
                                                 writer: dict[str, str]) -> None:
    params = {"activityId": "http://example.org/activity/1", "stateId": "bookmark",
              "agent": json.dumps({"mbox": "mailto:learner@example.org"})}
    put = client.post("/xAPI/activities/state?method=PUT", headers=FORM,
                      content=form(writer, **params, **{"Content-Type": "application/json"},
                                   content='{"page": 3}'))
    assert put.status_code == 204, put.text
    got = client.post("/xAPI/activities/state?method=GET", headers=FORM,
                      content=form(writer, **params))
    assert got.status_code == 200 and got.json() == {"page": 3}


def test_lrs_alternate_rejects_extra_query_parameters_and_bad_methods(
    client: TestClient, writer: dict[str, str]
) -> None:
    extra = client.post("/xAPI/statements?method=GET&limit=1", headers=FORM,
                        content=form(writer))
    assert extra.status_code == 400 and "limit" in extra.json()["message"]
    not_post = client.get("/xAPI/statements?method=GET", headers=writer)
    assert not_post.status_code == 400
    bad = client.post("/xAPI/statements?method=PATCH", headers=FORM, content=form(writer))
    assert bad.status_code == 400 and "PATCH" in bad.json()["message"]
    missing_auth = client.post("/xAPI/statements?method=GET", headers=FORM,
                               content=urlencode({"X-Experience-API-Version": "1.0.3"}))
    assert missing_auth.status_code == 401
