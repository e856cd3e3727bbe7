"""xAPI 2.0.0 (IEEE 9274.1.1) as served to requests declaring it, and 1.0.3 left as it was.

Each test names the behaviour the ADL 2.0 suite checks (or the 2.0.0 rule it follows), so
that CI protects 2.0 conformance without running the suite.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from tests.lrs import statements as s
from tests.lrs.test_attachments import certificate, jws, send, signed_request
from vigie.lrs.app import create_app
from vigie.lrs.tenants import TenantRegistry
from vigie.lrs.versions import negotiate

URL = "/xAPI/statements"
STATE = "/xAPI/activities/state"
AGENT_PROFILE = "/xAPI/agents/profile"
ACTIVITY = f"{s.MOODLE}/mod/quiz/view.php?id=7"
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:etudiant@unicaen.example"})
PLAYER = {"objectType": "Agent", "mbox": "mailto:player-1@example.com"}
TEAM: dict[str, Any] = {"objectType": "Group", "mbox": "mailto:team-1@example.com",
                        "member": [{"objectType": "Agent", "mbox": "mailto:player-2@example.com"}]}
POSITION = "https://example.com/xapi/activity-types/position/quarterback"


@pytest.fixture
def v2(writer: dict[str, str]) -> dict[str, str]:
    """The `caen` writer's headers, declaring xAPI 2.0.0."""
    return {**writer, "X-Experience-API-Version": "2.0.0"}


def context_agents(**extra: Any) -> dict[str, Any]:
    return {"objectType": "contextAgent", "agent": PLAYER, "relevantTypes": [POSITION], **extra}


def context_groups(**extra: Any) -> dict[str, Any]:
    return {"objectType": "contextGroup", "group": TEAM, "relevantTypes": [POSITION], **extra}


def with_context(**context: Any) -> dict[str, Any]:
    """A statement whose context has `context` (e.g. contextAgents)."""
    statement = s.viewed()
    statement["context"] = {**statement["context"], **context}
    return statement


def in_substatement(**context: Any) -> dict[str, Any]:
    """A statement whose SubStatement object has a context with `context`."""
    sub = {key: value for key, value in with_context(**context).items() if key != "timestamp"}
    outer = {key: value for key, value in s.viewed().items() if key != "context"}
    return {**outer, "object": {**sub, "objectType": "SubStatement"}}


def post(client: TestClient, headers: dict[str, str], statement: dict[str, Any]) -> Any:
    return client.post(URL, json=statement, headers=headers)


def stored(client: TestClient, headers: dict[str, str], statement: dict[str, Any]) -> Any:
    """Posts `statement` (must succeed) and returns it as the LRS gives it back."""
    response = post(client, headers, statement)
    assert response.status_code == 200, response.text
    got = client.get(URL, params={"statementId": response.json()[0]}, headers=headers)
    assert got.status_code == 200
    return got.json()


def message(response: Any) -> str:
    text: str = response.json()["message"]
    return text


# -- version negotiation --------------------------------------------------------------------------


def test_negotiate_maps_patch_versions_to_the_implemented_ones() -> None:
    assert [negotiate(v) for v in ("1.0", "1.0.0", "1.0.9", " 1.0.3 ")] == ["1.0.3"] * 4
    assert [negotiate(v) for v in ("2.0", "2.0.0", "2.0.7")] == ["2.0.0"] * 3
    assert [negotiate(v) for v in (None, "", "0.95", "1.1.0", "2.1.0", "3.0", "2")] == [None] * 7


def test_each_request_is_answered_in_its_version(
    client: TestClient, writer: dict[str, str]
) -> None:
    for declared, answered in (("1.0", "1.0.3"), ("1.0.3", "1.0.3"), ("2.0", "2.0.0"),
                               ("2.0.0", "2.0.0"), ("2.0.4", "2.0.0")):
        response = client.get(URL, headers={**writer, "X-Experience-API-Version": declared})
        assert response.status_code == 200, declared
        assert response.headers["X-Experience-API-Version"] == answered
    refused = client.get(URL, headers={**writer, "X-Experience-API-Version": "2.1.0"})
    assert refused.status_code == 400
    assert message(refused).startswith("X-Experience-API-Version:")
    assert "1.0.3 or 2.0.0" in message(refused)


def test_about_lists_both_versions(client: TestClient) -> None:
    response = client.get("/xAPI/about", headers={"X-Experience-API-Version": "2.0.0"})
    assert response.json()["version"] == ["1.0.3", "2.0.0"]
    assert response.headers["X-Experience-API-Version"] == "2.0.0"


@pytest.fixture
def default_2(tmp_path: Path, registry: TenantRegistry) -> Iterator[TestClient]:
    """An LRS naming 2.0.0 in answers to requests that name no version."""
    app = create_app(tmp_path, registry=registry, default_version="2.0.0")
    with TestClient(app) as test_client:
        yield test_client
    app.state.store.close()


def test_requests_without_version_are_answered_in_the_default_version(
    default_2: TestClient, client: TestClient, writer: dict[str, str]
) -> None:
    auth = {"Authorization": writer["Authorization"]}
    for method in ("GET", "POST", "PUT"):  # what both ADL suites check, each with its version
        refused = default_2.request(method, URL, headers=auth)
        assert refused.status_code == 400
        assert refused.headers["X-Experience-API-Version"] == "2.0.0"
        assert client.request(method, URL, headers=auth).headers[
            "X-Experience-API-Version"] == "1.0.3"
    assert default_2.get("/xAPI/about").headers["X-Experience-API-Version"] == "2.0.0"


# -- contextAgents and contextGroups --------------------------------------------------------------


@pytest.mark.parametrize("build", [with_context, in_substatement])
def test_context_agents_and_groups_are_accepted_and_kept(
    client: TestClient, v2: dict[str, str], build: Any
) -> None:
    untyped = {"objectType": "contextGroup", "group": TEAM}  # relevantTypes is optional
    statement = build(contextAgents=[context_agents()],
                      contextGroups=[context_groups(), untyped])
    got = stored(client, v2, statement)
    context = got["context"] if build is with_context else got["object"]["context"]
    assert context["contextAgents"] == [context_agents()]
    assert context["contextGroups"] == [context_groups(), untyped]


@pytest.mark.parametrize("build", [with_context, in_substatement])
@pytest.mark.parametrize(("context", "field"), [
    ({"contextAgents": [context_agents(objectType="Should fail")]}, "contextAgents[0].objectType"),
    ({"contextAgents": [context_agents(objectType="ContextAgent")]},
     "contextAgents[0].objectType"),
    ({"contextAgents": [{"agent": PLAYER}]}, "contextAgents[0].objectType"),
    ({"contextAgents": [context_agents(agent={"key": "Should fail"})]}, "contextAgents[0].agent"),
    ({"contextAgents": [context_agents(agent=TEAM)]}, "contextAgents[0].agent"),
    ({"contextAgents": [context_agents(relevantTypes=[])]}, "contextAgents[0].relevantTypes"),
    ({"contextAgents": [context_agents(relevantTypes=["abc"])]},
     "contextAgents[0].relevantTypes[0]"),
    ({"contextAgents": context_agents()}, "contextAgents"),
    ({"contextGroups": [context_groups(objectType="Should fail")]}, "contextGroups[0].objectType"),
    ({"contextGroups": [context_groups(group={"mbox": "not an email"})]},
     "contextGroups[0].group"),
    ({"contextGroups": [context_groups(group=PLAYER)]}, "contextGroups[0].group.objectType"),
    ({"contextGroups": [context_groups(relevantTypes=[])]}, "contextGroups[0].relevantTypes"),
    ({"contextGroups": [context_groups(relevantTypes=["abc"])]},
     "contextGroups[0].relevantTypes[0]"),
])
def test_invalid_context_agents_and_groups_are_400_naming_the_field(
    client: TestClient, v2: dict[str, str], build: Any, context: dict[str, Any], field: str
) -> None:
    response = post(client, v2, build(**context))
    assert response.status_code == 400
    assert f"context.{field}" in message(response), message(response)


def test_context_agents_are_not_xapi_103(client: TestClient, writer: dict[str, str]) -> None:
    for name, item in (("contextAgents", context_agents()), ("contextGroups", context_groups())):
        response = post(client, writer, with_context(**{name: [item]}))
        assert response.status_code == 400
        assert message(response) == f"context.{name}: is not an allowed property here"


def test_related_agents_matches_context_agents_and_groups(
    client: TestClient, v2: dict[str, str]
) -> None:
    ids = [
        post(client, v2, with_context(contextAgents=[context_agents()])).json()[0],
        post(client, v2, with_context(contextGroups=[context_groups()])).json()[0],
        post(client, v2, in_substatement(contextAgents=[context_agents()])).json()[0],
        post(client, v2, s.viewed()).json()[0],
    ]

    def found(agent: dict[str, Any], related: str) -> set[str]:
        params = {"agent": json.dumps(agent), "related_agents": related}
        response = client.get(URL, params=params, headers=v2)
        assert response.status_code == 200
        return {statement["id"] for statement in response.json()["statements"]}

    assert found(PLAYER, "true") == {ids[0], ids[2]}
    assert found(PLAYER, "false") == set()
    assert found(TEAM, "true") == {ids[1]}  # the Group by its identifier…
    assert found(TEAM["member"][0], "true") == {ids[1]}  # …and by its members
    assert found(TEAM, "false") == set()


def test_ids_format_reduces_context_agents_to_identifiers(
    client: TestClient, v2: dict[str, str]
) -> None:
    named = {**PLAYER, "name": "Joueur 1"}
    statement_id = post(client, v2, with_context(
        contextAgents=[context_agents(agent=named)])).json()[0]
    got = client.get(URL, params={"statementId": statement_id, "format": "ids"}, headers=v2)
    assert got.json()["context"]["contextAgents"] == [context_agents()]


# -- statement properties -------------------------------------------------------------------------


def test_version_property_rules(
    client: TestClient, v2: dict[str, str], writer: dict[str, str]
) -> None:
    assert stored(client, v2, s.viewed())["version"] == "2.0.0"
    assert stored(client, writer, s.viewed())["version"] == "1.0.0"
    for kept in ("2.0.0", "2.0", "1.0", "1.0.9"):
        assert stored(client, v2, s.viewed(version=kept))["version"] == kept
    for refused in ("1.1.0", "0.9.9", "3.0.0", "should fail"):
        response = post(client, v2, s.viewed(version=refused))
        assert response.status_code == 400
        assert message(response).startswith("version: must be 1.0, 1.0.x, 2.0 or 2.0.x")
    under_103 = post(client, writer, s.viewed(version="2.0.0"))
    assert under_103.status_code == 400
    assert message(under_103).startswith("version: must be 1.0 or 1.0.x")


def test_timestamps_are_stored_in_utc_under_2(
    client: TestClient, v2: dict[str, str], writer: dict[str, str]
) -> None:
    offset = "2023-05-04T12:00:00-05:00"
    assert stored(client, v2, s.viewed(timestamp=offset))["timestamp"] == (
        "2023-05-04T17:00:00.000Z")
    sub = stored(client, v2, in_substatement())["object"]
    assert "timestamp" not in sub
    dated = {**in_substatement(), "timestamp": "2023-05-04T17:00:00.5Z"}
    dated["object"] = {**dated["object"], "timestamp": "2023-05-04T19:00:00.123456+02:00"}
    got = stored(client, v2, dated)
    assert got["timestamp"] == "2023-05-04T17:00:00.5Z"  # already UTC: kept as sent
    assert got["object"]["timestamp"] == "2023-05-04T17:00:00.123Z"
    assert stored(client, writer, s.viewed(timestamp=offset))["timestamp"] == offset  # 1.0.3


def test_timestamp_rules_under_2(
    client: TestClient, v2: dict[str, str], writer: dict[str, str]
) -> None:
    spaced = "2008-09-15 15:53:00.601+00:00"  # RFC 3339 lets a space stand for the T
    assert stored(client, v2, s.viewed(timestamp=spaced))["timestamp"] == (
        "2008-09-15T15:53:00.601Z")
    assert post(client, writer, s.viewed(timestamp=spaced)).status_code == 400
    for refused in ("2008-09-15T15:53:00.601", "2008-09-15T15:53:00.601-00:00", "should fail"):
        response = post(client, v2, s.viewed(timestamp=refused))
        assert response.status_code == 400, refused
        assert message(response).startswith("timestamp: ")
    future = "2999-01-01T00:00:00Z"  # a client's clock may be ahead: not a reason to refuse
    assert stored(client, v2, s.viewed(timestamp=future))["timestamp"] == future
    undated = {key: value for key, value in s.viewed().items() if key != "timestamp"}
    got = stored(client, v2, undated)
    assert got["timestamp"] == got["stored"]


def test_single_statement_has_last_modified_of_its_stored_time(
    client: TestClient, v2: dict[str, str]
) -> None:
    statement_id = post(client, v2, s.viewed()).json()[0]
    got = client.get(URL, params={"statementId": statement_id}, headers=v2)
    last_modified = parsedate_to_datetime(got.headers["Last-Modified"])
    stored_at = datetime.fromisoformat(got.json()["stored"].replace("Z", "+00:00"))
    assert last_modified == stored_at.replace(microsecond=0)


def test_statement_rules_kept_from_103(client: TestClient, v2: dict[str, str]) -> None:
    statement = {**s.viewed(), "id": str(uuid.uuid4())}
    assert client.post(URL, json=[statement, statement], headers=v2).status_code == 400
    assert post(client, v2, {**s.viewed(), "dummy": "dummy"}).status_code == 400
    voiding = {"actor": s.learner(), "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
               "object": {"objectType": "StatementRef", "id": str(uuid.uuid4())}}
    assert post(client, v2, voiding).status_code == 200  # its target need not be known


# -- durations: compared at 0.01 s ----------------------------------------------------------------


def test_durations_are_compared_to_the_hundredth(
    client: TestClient, v2: dict[str, str], writer: dict[str, str]
) -> None:
    for headers in (v2, writer):  # 1.0.3 Data 4.6 says the same
        statement_id = str(uuid.uuid4())
        first = s.viewed(id=statement_id, result={"duration": "P1DT12H36M0.1237S"})
        assert post(client, headers, first).status_code == 200
        same = s.viewed(id=statement_id, result={"duration": "P1DT12H36M0.12S"})
        assert post(client, headers, same).status_code == 200  # the same statement: a no-op
        other = s.viewed(id=statement_id, result={"duration": "P1DT12H36M0.13S"})
        assert post(client, headers, other).status_code == 409


def test_signature_comparison_ignores_duration_beyond_the_hundredth(
    client: TestClient, v2: dict[str, str]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed = {**with_context(contextAgents=[context_agents()]), "id": str(uuid.uuid4()),
              "result": {"duration": "P1DT12H36M0.12S"}}
    token = jws(signed, key, x5c=[certificate(key)])
    sent = {**signed, "result": {"duration": "P1DT12H36M0.1237S"}}
    response = send(client, v2, signed_request(sent, token))
    assert response.status_code == 200, response.text


def test_extensions_are_compared_as_they_are(client: TestClient, v2: dict[str, str]) -> None:
    """A `timestamp` key inside an extension is free text, not a timestamp to normalise."""
    statement = s.viewed(id=str(uuid.uuid4()),
                         result={"extensions": {"http://example.com/x": {"timestamp": "hier"}}})
    assert post(client, v2, statement).status_code == 200
    assert post(client, v2, statement).status_code == 200


# -- document resources: concurrency and Last-Modified --------------------------------------------


def state(**extra: Any) -> dict[str, Any]:
    return {"activityId": ACTIVITY, "agent": AGENT, "stateId": "bookmark", **extra}


def profile() -> dict[str, Any]:
    return {"agent": AGENT, "profileId": "preferences"}


@pytest.mark.parametrize(("path", "params"), [(STATE, state()), (AGENT_PROFILE, profile())])
def test_put_over_an_existing_document_needs_a_precondition(
    client: TestClient, v2: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    created = client.put(path, params=params, json={"n": 1}, headers=v2)
    assert created.status_code == 204  # nothing to overwrite: no precondition needed
    again = client.put(path, params=params, json={"n": 2}, headers=v2)
    assert again.status_code == 409
    assert "If-Match" in message(again)
    assert client.get(path, params=params, headers=v2).json() == {"n": 1}
    replaced = client.put(path, params=params, json={"n": 2},
                          headers={**v2, "If-Match": created.headers["ETag"]})
    assert replaced.status_code == 204
    assert client.post(path, params=params, json={"m": 3}, headers=v2).status_code == 204


def test_103_rules_for_document_preconditions_are_unchanged(
    client: TestClient, writer: dict[str, str]
) -> None:
    assert client.put(STATE, params=state(), json={"n": 1}, headers=writer).status_code == 204
    assert client.put(STATE, params=state(), json={"n": 2}, headers=writer).status_code == 204
    refused = client.put(AGENT_PROFILE, params=profile(), json={"n": 1}, headers=writer)
    assert refused.status_code == 400
    assert message(refused).startswith("If-None-Match:")


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
@pytest.mark.parametrize(("path", "params"), [(STATE, state()), (AGENT_PROFILE, profile())])
def test_wrong_if_match_is_412_and_changes_nothing(
    client: TestClient, v2: dict[str, str], path: str, params: dict[str, Any], method: str
) -> None:
    created = client.post(path, params=params, json={"n": 1}, headers=v2)
    assert created.status_code == 204
    body = None if method == "DELETE" else json.dumps({"n": 2}).encode()
    wrong = client.request(method, path, params=params, content=body,
                           headers={**v2, "If-Match": '"1234"', "Content-Type": "application/json"})
    assert wrong.status_code == 412
    assert client.get(path, params=params, headers=v2).json() == {"n": 1}
    right = client.request(method, path, params=params, content=body,
                           headers={**v2, "If-Match": created.headers["ETag"],
                                    "Content-Type": "application/json"})
    assert right.status_code == 204


def test_delete_needs_no_precondition(client: TestClient, v2: dict[str, str]) -> None:
    client.post(STATE, params=state(), json={"n": 1}, headers=v2)
    assert client.delete(STATE, params=state(), headers=v2).status_code == 204
    assert client.get(STATE, params=state(), headers=v2).status_code == 404


def test_last_modified_follows_the_document(client: TestClient, v2: dict[str, str]) -> None:
    client.post(STATE, params=state(), json={"n": 1}, headers=v2)
    first = parsedate_to_datetime(
        client.get(STATE, params=state(), headers=v2).headers["Last-Modified"])
    time.sleep(1.1)  # HTTP dates count whole seconds
    client.post(STATE, params=state(), json={"m": 2}, headers=v2)
    second = parsedate_to_datetime(
        client.get(STATE, params=state(), headers=v2).headers["Last-Modified"])
    assert second > first
    listing = client.get(STATE, params={"activityId": ACTIVITY, "agent": AGENT}, headers=v2)
    assert parsedate_to_datetime(listing.headers["Last-Modified"]) == second


# -- no alternate request syntax ------------------------------------------------------------------


def test_alternate_request_syntax_is_refused_under_2(
    client: TestClient, v2: dict[str, str], writer: dict[str, str]
) -> None:
    form = {"statementId": str(uuid.uuid4()), "content": json.dumps(s.viewed())}
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    declared = client.post(URL, params={"method": "PUT"}, data=form,
                           headers={**v2, **form_headers})
    assert declared.status_code == 400
    assert message(declared).startswith("method: xAPI 2.0.0 has no alternate request syntax")
    assert declared.headers["X-Experience-API-Version"] == "2.0.0"
    in_form = client.post(URL, params={"method": "PUT"}, headers=form_headers,
                          data={**form, "Authorization": writer["Authorization"],
                                "X-Experience-API-Version": "2.0.0"})
    assert in_form.status_code == 400
    assert "no alternate request syntax" in message(in_form)
    for method in ("GET", "PUT"):  # whatever the shape of the request
        response = client.request(method, URL, params={"method": "POST"}, headers=v2)
        assert response.status_code == 400
    under_103 = client.post(URL, params={"method": "PUT"}, headers=form_headers,
                            data={**form, "Authorization": writer["Authorization"],
                                  "X-Experience-API-Version": "1.0.3"})
    assert under_103.status_code == 204


# -- command line ---------------------------------------------------------------------------------


def test_serve_refuses_an_unknown_default_version(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vigie.lrs.cli import lrs_app

    result = CliRunner().invoke(lrs_app, ["serve", "--root", str(tmp_path),
                                          "--default-version", "2.1.0"])
    assert result.exit_code == 2
    assert "1.0.3, 2.0.0" in result.output
