"""The document resources (State, Activity Profile, Agent Profile), /activities and /agents
over HTTP (xAPI 1.0.3 Communication 2.2 to 2.7 and 3.1)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.lrs import statements as s
from tests.lrs.conftest import LrsBackend, basic, close_app
from vigie.lrs.tenants import TenantRegistry

STATE = "/xAPI/activities/state"
ACTIVITY_PROFILE = "/xAPI/activities/profile"
AGENT_PROFILE = "/xAPI/agents/profile"
ACTIVITY = f"{s.MOODLE}/mod/quiz/view.php?id=7"
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:etudiant@unicaen.example"})
OTHER_AGENT = json.dumps({"account": {"homePage": s.MOODLE, "name": "e00002"}})


def state(state_id: str | None = "bookmark", **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"activityId": ACTIVITY, "agent": AGENT, **extra}
    if state_id is not None:
        params["stateId"] = state_id
    return params


def etag(content: bytes) -> str:
    return f'"{hashlib.sha1(content).hexdigest()}"'


def message(response: Any) -> str:
    text: str = response.json()["message"]
    return text


# -- State: PUT, GET, POST merge, DELETE -------------------------------------------------------


def creating(headers: dict[str, str]) -> dict[str, str]:
    """Headers of a PUT that creates a profile (a profile PUT needs a precondition)."""
    return {**headers, "If-None-Match": "*"}


def test_state_put_then_get_keeps_content_type_and_sets_etag(
    client: TestClient, writer: dict[str, str]
) -> None:
    body = b'{"page": 3, "score": 0.5}'
    headers = {**writer, "Content-Type": "application/json; charset=utf-8"}
    put = client.put(STATE, params=state(), content=body, headers=headers)
    assert put.status_code == 204, put.text
    assert put.headers["ETag"] == etag(body)
    got = client.get(STATE, params=state(), headers=writer)
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert got.headers["ETag"] == etag(body)
    assert got.headers["Last-Modified"].endswith("GMT")
    assert got.headers["X-Experience-API-Version"] == "1.0.3"


def test_state_binary_document_round_trips(client: TestClient, writer: dict[str, str]) -> None:
    body = bytes(range(256))
    headers = {**writer, "Content-Type": "application/octet-stream"}
    assert client.put(STATE, params=state("blob"), content=body, headers=headers).status_code == 204
    got = client.get(STATE, params=state("blob"), headers=writer)
    assert got.content == body and got.headers["Content-Type"] == "application/octet-stream"


def test_state_put_without_precondition_replaces(
    client: TestClient, writer: dict[str, str]
) -> None:
    """State is lenient (Communication 3.1): PUT over an existing state needs no header."""
    client.put(STATE, params=state(), json={"a": 1}, headers=writer)
    again = client.put(STATE, params=state(), json={"b": 2}, headers=writer)
    assert again.status_code == 204
    assert client.get(STATE, params=state(), headers=writer).json() == {"b": 2}


def test_state_post_merges_top_level_properties(
    client: TestClient, writer: dict[str, str]
) -> None:
    created = client.post(STATE, params=state(), json={"x": "foo", "y": "bar"}, headers=writer)
    assert created.status_code == 204
    merged = client.post(
        STATE, params=state(), json={"x": "bash", "z": {"deep": 1}}, headers=writer
    )
    assert merged.status_code == 204
    got = client.get(STATE, params=state(), headers=writer)
    assert got.json() == {"x": "bash", "y": "bar", "z": {"deep": 1}}
    assert got.headers["ETag"] == etag(got.content) == merged.headers["ETag"]


def test_state_post_merge_refused_unless_both_are_json_objects(
    client: TestClient, writer: dict[str, str]
) -> None:
    text = {**writer, "Content-Type": "text/plain"}
    client.put(STATE, params=state("text"), content=b"hello", headers=text)
    into_text = client.post(STATE, params=state("text"), json={"a": 1}, headers=writer)
    assert into_text.status_code == 400 and "Content-Type" in message(into_text)
    client.put(STATE, params=state(), json={"a": 1}, headers=writer)
    posting_text = client.post(STATE, params=state(), content=b"x", headers=text)
    assert posting_text.status_code == 400
    array = client.post(STATE, params=state(), json=[1, 2], headers=writer)
    assert array.status_code == 400 and "JSON Object" in message(array)
    broken = client.post(
        STATE, params=state(), content=b"{oops",
        headers={**writer, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and "not valid JSON" in message(broken)
    client.put(
        STATE, params=state("list"), content=b"[1]",
        headers={**writer, "Content-Type": "application/json"},
    )
    into_array = client.post(STATE, params=state("list"), json={"a": 1}, headers=writer)
    assert into_array.status_code == 400
    # nothing was modified by the refused requests
    assert client.get(STATE, params=state(), headers=writer).json() == {"a": 1}
    assert client.get(STATE, params=state("text"), headers=writer).content == b"hello"


def test_state_get_missing_is_404(client: TestClient, writer: dict[str, str]) -> None:
    assert client.get(STATE, params=state("nothing"), headers=writer).status_code == 404


def test_state_registration_is_part_of_the_key(
    client: TestClient, writer: dict[str, str]
) -> None:
    registration = str(uuid.uuid4())
    client.put(STATE, params=state(), json={"r": None}, headers=writer)
    client.put(
        STATE, params=state(registration=registration.upper()), json={"r": 1}, headers=writer
    )
    assert client.get(STATE, params=state(), headers=writer).json() == {"r": None}
    got = client.get(STATE, params=state(registration=registration), headers=writer)
    assert got.json() == {"r": 1}
    other = client.get(STATE, params=state(registration=str(uuid.uuid4())), headers=writer)
    assert other.status_code == 404


def test_state_agent_is_identified_by_its_ifi(client: TestClient, writer: dict[str, str]) -> None:
    client.put(STATE, params=state(), json={"a": 1}, headers=writer)
    # same mbox, domain in another case, no objectType, with a name: same Agent
    same = json.dumps({"name": "É", "mbox": "mailto:etudiant@UNICAEN.example"})
    assert client.get(STATE, params=state(agent=same), headers=writer).json() == {"a": 1}
    assert client.get(STATE, params=state(agent=OTHER_AGENT), headers=writer).status_code == 404


def test_state_ids_and_since(client: TestClient, writer: dict[str, str]) -> None:
    client.put(STATE, params=state("a"), json={"n": 1}, headers=writer)
    client.put(STATE, params=state("b"), json={"n": 2}, headers=writer)
    time.sleep(0.01)
    middle = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.01)
    client.put(STATE, params=state("c"), json={"n": 3}, headers=writer)
    client.post(STATE, params=state("a"), json={"m": 1}, headers=writer)  # updated later
    client.put(STATE, params=state("z", agent=OTHER_AGENT), json={}, headers=writer)
    listed = client.get(STATE, params=state(None), headers=writer)
    assert listed.status_code == 200
    assert listed.json() == ["a", "b", "c"]
    assert listed.headers["Last-Modified"].endswith("GMT")
    assert listed.headers["ETag"] == etag(listed.content)
    recent = client.get(STATE, params=state(None, since=middle), headers=writer)
    assert recent.json() == ["a", "c"]
    offset = client.get(
        STATE, params=state(None, since=middle.replace("Z", "+00:00")), headers=writer
    )
    assert offset.json() == ["a", "c"]
    bad = client.get(STATE, params=state(None, since="yesterday"), headers=writer)
    assert bad.status_code == 400 and message(bad).startswith("since:")
    with_id = client.get(STATE, params=state(since=middle), headers=writer)
    assert with_id.status_code == 400 and "since" in message(with_id)


def test_state_ids_filter_by_registration_only_when_given(
    client: TestClient, writer: dict[str, str]
) -> None:
    registration = str(uuid.uuid4())
    client.put(STATE, params=state("plain"), json={}, headers=writer)
    client.put(STATE, params=state("reg", registration=registration), json={}, headers=writer)
    everything = client.get(STATE, params=state(None), headers=writer).json()
    assert everything == ["plain", "reg"]
    only = client.get(STATE, params=state(None, registration=registration), headers=writer)
    assert only.json() == ["reg"]


def test_state_delete_single_and_all(client: TestClient, writer: dict[str, str]) -> None:
    registration = str(uuid.uuid4())
    for name in ("a", "b"):
        client.put(STATE, params=state(name), json={}, headers=writer)
    client.put(STATE, params=state("r", registration=registration), json={}, headers=writer)
    client.put(STATE, params=state("keep", agent=OTHER_AGENT), json={}, headers=writer)
    deleted = client.delete(STATE, params=state("a"), headers=writer)
    assert deleted.status_code == 204
    assert client.get(STATE, params=state("a"), headers=writer).status_code == 404
    assert client.delete(STATE, params=state("a"), headers=writer).status_code == 204
    by_registration = client.delete(
        STATE, params=state(None, registration=registration), headers=writer
    )
    assert by_registration.status_code == 204
    assert client.get(STATE, params=state(None), headers=writer).json() == ["b"]
    assert client.delete(STATE, params=state(None), headers=writer).status_code == 204
    assert client.get(STATE, params=state(None), headers=writer).json() == []
    kept = client.get(STATE, params=state(None, agent=OTHER_AGENT), headers=writer)
    assert kept.json() == ["keep"]


def test_head_on_documents(client: TestClient, writer: dict[str, str]) -> None:
    body = b'{"k":"v"}'
    client.put(
        STATE, params=state(), content=body,
        headers={**writer, "Content-Type": "application/json"},
    )
    head = client.head(STATE, params=state(), headers=writer)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == etag(body)
    assert head.headers["Content-Length"] == str(len(body))
    assert client.head(STATE, params=state(None), headers=writer).status_code == 200
    assert client.head(STATE, params=state("none"), headers=writer).status_code == 404


# -- concurrency ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (STATE, state()),
        (ACTIVITY_PROFILE, {"activityId": ACTIVITY, "profileId": "p"}),
        (AGENT_PROFILE, {"agent": AGENT, "profileId": "p"}),
    ],
)
def test_if_match_and_if_none_match(
    client: TestClient, writer: dict[str, str], url: str, params: dict[str, str]
) -> None:
    first = client.put(url, params=params, json={"v": 1}, headers={**writer, "If-None-Match": "*"})
    assert first.status_code == 204
    tag = first.headers["ETag"]
    again = client.put(url, params=params, json={"v": 9}, headers={**writer, "If-None-Match": "*"})
    assert again.status_code == 412
    stale = client.put(url, params=params, json={"v": 9}, headers={**writer, "If-Match": '"0"'})
    assert stale.status_code == 412
    assert client.get(url, params=params, headers=writer).json() == {"v": 1}
    fresh = client.put(url, params=params, json={"v": 2}, headers={**writer, "If-Match": tag})
    assert fresh.status_code == 204
    new_tag = fresh.headers["ETag"]
    assert client.get(url, params=params, headers=writer).headers["ETag"] == new_tag
    # POST and DELETE honour the headers too
    old = client.post(url, params=params, json={"w": 1}, headers={**writer, "If-Match": tag})
    assert old.status_code == 412
    merged = client.post(
        url, params=params, json={"w": 1}, headers={**writer, "If-Match": new_tag}
    )
    assert merged.status_code == 204
    assert client.get(url, params=params, headers=writer).json() == {"v": 2, "w": 1}
    refused = client.delete(url, params=params, headers={**writer, "If-Match": new_tag})
    assert refused.status_code == 412
    current = merged.headers["ETag"]
    gone = client.delete(url, params=params, headers={**writer, "If-Match": current})
    assert gone.status_code == 204
    assert client.get(url, params=params, headers=writer).status_code == 404
    # If-Match on a document that does not exist fails
    missing = client.put(url, params=params, json={}, headers={**writer, "If-Match": "*"})
    assert missing.status_code == 412


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (ACTIVITY_PROFILE, {"activityId": ACTIVITY, "profileId": "p"}),
        (AGENT_PROFILE, {"agent": AGENT, "profileId": "p"}),
    ],
)
def test_profile_put_over_existing_without_headers_is_409(
    client: TestClient, writer: dict[str, str], url: str, params: dict[str, str]
) -> None:
    created = client.put(url, params=params, json={"v": 1}, headers=creating(writer))
    assert created.status_code == 204
    conflict = client.put(url, params=params, json={"v": 2}, headers=writer)
    assert conflict.status_code == 409
    new = client.put(url, params={**params, "profileId": "new"}, json={}, headers=writer)
    assert new.status_code == 400 and "If-None-Match: *" in message(new)
    assert "If-Match" in message(conflict)
    assert client.get(url, params=params, headers=writer).json() == {"v": 1}
    # POST without headers is allowed (SHOULD only) and merges
    assert client.post(url, params=params, json={"w": 2}, headers=writer).status_code == 204
    assert client.get(url, params=params, headers=writer).json() == {"v": 1, "w": 2}


def test_weak_and_unquoted_etags_are_tolerated(
    client: TestClient, writer: dict[str, str]
) -> None:
    tag = client.put(STATE, params=state(), json={"a": 1}, headers=writer).headers["ETag"]
    bare = tag.strip('"')
    response = client.put(
        STATE, params=state(), json={"a": 2},
        headers={**writer, "If-Match": f'"other", W/{tag}, {bare}'},
    )
    assert response.status_code == 204


# -- profiles ----------------------------------------------------------------------------------


def test_activity_profile_ids_since_and_delete(
    client: TestClient, writer: dict[str, str]
) -> None:
    params = {"activityId": ACTIVITY}
    client.put(ACTIVITY_PROFILE, params={**params, "profileId": "one"}, json={},
               headers=creating(writer))
    time.sleep(0.01)
    middle = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    client.put(
        ACTIVITY_PROFILE, params={**params, "profileId": "two"},
        content=b"<xml/>",
        headers={**writer, "Content-Type": "application/xml", "If-None-Match": "*"},
    )
    other = {"activityId": f"{ACTIVITY}&x=1", "profileId": "else"}
    client.put(ACTIVITY_PROFILE, params=other, json={}, headers=creating(writer))
    assert client.get(ACTIVITY_PROFILE, params=params, headers=writer).json() == ["one", "two"]
    recent = client.get(ACTIVITY_PROFILE, params={**params, "since": middle}, headers=writer)
    assert recent.json() == ["two"]
    got = client.get(ACTIVITY_PROFILE, params={**params, "profileId": "two"}, headers=writer)
    assert got.content == b"<xml/>" and got.headers["Content-Type"] == "application/xml"
    no_id = client.delete(ACTIVITY_PROFILE, params=params, headers=writer)
    assert no_id.status_code == 400 and message(no_id).startswith("profileId:")
    deleted = client.delete(
        ACTIVITY_PROFILE, params={**params, "profileId": "one"}, headers=writer
    )
    assert deleted.status_code == 204
    assert client.get(ACTIVITY_PROFILE, params=params, headers=writer).json() == ["two"]


def test_agent_profile_ids_are_per_agent(client: TestClient, writer: dict[str, str]) -> None:
    client.put(AGENT_PROFILE, params={"agent": AGENT, "profileId": "prefs"}, json={},
               headers=creating(writer))
    client.put(AGENT_PROFILE, params={"agent": OTHER_AGENT, "profileId": "cv"}, json={},
               headers=creating(writer))
    assert client.get(AGENT_PROFILE, params={"agent": AGENT}, headers=writer).json() == ["prefs"]
    other = client.get(AGENT_PROFILE, params={"agent": OTHER_AGENT}, headers=writer)
    assert other.json() == ["cv"]
    # the state of the same agent is another space
    assert client.get(STATE, params=state(None), headers=writer).json() == []


# -- parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "params", "starts"),
    [
        ("GET", STATE, {"agent": AGENT, "stateId": "x"}, "activityId: required"),
        ("PUT", STATE, {"activityId": ACTIVITY, "stateId": "x"}, "agent: required"),
        ("PUT", STATE, {"activityId": ACTIVITY, "agent": AGENT}, "stateId: required"),
        ("POST", STATE, {"activityId": ACTIVITY, "agent": AGENT}, "stateId: required"),
        ("GET", STATE, state(activityId="not an iri"), "activityId: must be an IRI"),
        ("GET", STATE, state(agent="{not json"), "agent: is not valid JSON"),
        ("GET", STATE, state(agent='{"name": "x"}'), "agent:"),
        ("GET", STATE, state(agent='{"mbox": "x@y.example"}'), "agent.mbox: must start"),
        (
            "GET", STATE,
            state(agent=json.dumps({"objectType": "Group", "mbox": "mailto:g@x.example"})),
            "agent.objectType",
        ),
        ("GET", STATE, state(registration="12"), "registration: must be a UUID"),
        ("DELETE", STATE, state(None, registration="12"), "registration: must be a UUID"),
        ("GET", STATE, state(verb="x"), "verb: not a parameter"),
        ("PUT", STATE, state(since="2024-01-01T00:00:00Z"), "since:"),
        ("PUT", STATE, state(""), "stateId: must not be empty"),
        ("GET", AGENT_PROFILE, {"agent": AGENT, "profileId": ""}, "profileId: must not be"),
        ("GET", ACTIVITY_PROFILE, {"profileId": "p"}, "activityId: required"),
        ("GET", ACTIVITY_PROFILE, {"activityId": ACTIVITY, "agent": AGENT}, "agent: not a"),
        ("PUT", ACTIVITY_PROFILE, {"activityId": ACTIVITY}, "profileId: required"),
        ("GET", AGENT_PROFILE, {"profileId": "p"}, "agent: required"),
        ("GET", AGENT_PROFILE, {"agent": AGENT, "activityId": ACTIVITY}, "activityId: not a"),
        ("GET", AGENT_PROFILE, {"agent": AGENT, "method": "PUT"},
         "method: the alternate request syntax is a POST"),
        ("GET", "/xAPI/activities", {}, "activityId: required"),
        ("GET", "/xAPI/activities", {"activityId": "nope"}, "activityId: must be an IRI"),
        ("GET", "/xAPI/agents", {}, "agent: required"),
        ("GET", "/xAPI/agents", {"agent": "[]"}, "agent:"),
        ("GET", "/xAPI/agents", {"agent": AGENT, "x": "1"}, "x: not a parameter"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: TestClient, writer: dict[str, str], method: str, url: str,
    params: dict[str, str], starts: str,
) -> None:
    response = client.request(method, url, params=params, json={}, headers=writer)
    assert response.status_code == 400, response.text
    assert message(response).startswith(starts), message(response)


def test_version_header_is_required(client: TestClient, writer: dict[str, str]) -> None:
    auth = {"Authorization": writer["Authorization"]}
    for url, params in (
        (STATE, state()),
        (AGENT_PROFILE, {"agent": AGENT}),
        ("/xAPI/activities", {"activityId": ACTIVITY}),
    ):
        response = client.get(url, params=params, headers=auth)
        assert response.status_code == 400, url
        assert "X-Experience-API-Version" in message(response)
        assert response.headers["X-Experience-API-Version"] == "1.0.3"


def test_oversized_document_is_413(client: TestClient, writer: dict[str, str]) -> None:
    response = client.put(
        STATE, params=state(), content=b"x" * 300_000,
        headers={**writer, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 413


# -- /activities and /agents ---------------------------------------------------------------------


def test_activity_definition_comes_from_statements(
    client: TestClient, writer: dict[str, str]
) -> None:
    course = f"{s.MOODLE}/course/view.php?id=12"
    unknown = client.get("/xAPI/activities", params={"activityId": course}, headers=writer)
    assert unknown.status_code == 200
    assert unknown.json() == {"objectType": "Activity", "id": course}
    assert unknown.headers["ETag"] == etag(unknown.content)
    old = s.viewed()
    old["object"]["definition"]["name"]["de"] = "Kurs 12"
    old["object"]["definition"]["moreInfo"] = "https://info.unicaen.example/12"
    assert client.post("/xAPI/statements", json=old, headers=writer).status_code == 200
    new = s.viewed(2)
    new["object"]["definition"]["name"] = {"fr-FR": "Cours 12 (2024)"}
    assert client.post("/xAPI/statements", json=new, headers=writer).status_code == 200
    got = client.get("/xAPI/activities", params={"activityId": course}, headers=writer).json()
    assert got["objectType"] == "Activity" and got["id"] == course
    definition = got["definition"]
    assert definition["name"] == {"fr-FR": "Cours 12 (2024)", "en": "Course 12", "de": "Kurs 12"}
    assert definition["type"] == "http://id.tincanapi.com/activitytype/lms/course"
    assert definition["moreInfo"] == "https://info.unicaen.example/12"
    # an activity only met in context activities is known too
    site = client.get("/xAPI/activities", params={"activityId": s.MOODLE}, headers=writer).json()
    assert site["definition"]["type"] == "http://id.tincanapi.com/activitytype/lms"
    head = client.head("/xAPI/activities", params={"activityId": course}, headers=writer)
    assert head.status_code == 200 and head.content == b""


def test_agents_returns_a_person(client: TestClient, writer: dict[str, str]) -> None:
    agent = {"objectType": "Agent", "name": "Étudiant 1", "account": s.learner()["account"]}
    response = client.get("/xAPI/agents", params={"agent": json.dumps(agent)}, headers=writer)
    assert response.status_code == 200
    assert response.json() == {
        "objectType": "Person", "name": ["Étudiant 1"], "account": [agent["account"]],
    }
    assert response.headers["ETag"] == etag(response.content)
    mbox = client.get("/xAPI/agents", params={"agent": AGENT}, headers=writer).json()
    assert mbox == {"objectType": "Person", "mbox": ["mailto:etudiant@unicaen.example"]}


# -- scopes and tenants --------------------------------------------------------------------------


def test_scopes(client: TestClient, registry: TenantRegistry) -> None:
    state_only = basic(registry.add_credential("caen", scopes=("state",)))
    profile_only = basic(registry.add_credential("caen", scopes=("profile",)))
    reader = basic(registry.add_credential("caen", scopes=("all/read",)))
    statements_reader = basic(registry.add_credential("caen", scopes=("statements/read",)))
    statements_writer = basic(registry.add_credential("caen", scopes=("statements/write",)))
    profile = {"activityId": ACTIVITY, "profileId": "p"}

    assert client.put(STATE, params=state(), json={}, headers=state_only).status_code == 204
    assert client.get(STATE, params=state(), headers=state_only).status_code == 200
    assert client.put(ACTIVITY_PROFILE, params=profile, json={},
                      headers=state_only).status_code == 403
    assert client.put(ACTIVITY_PROFILE, params=profile, json={},
                      headers=creating(profile_only)).status_code == 204
    assert client.put(STATE, params=state(), json={}, headers=profile_only).status_code == 403
    # all/read reads documents but does not write them
    assert client.get(STATE, params=state(), headers=reader).status_code == 200
    assert client.get(ACTIVITY_PROFILE, params=profile, headers=reader).status_code == 200
    assert client.delete(STATE, params=state(), headers=reader).status_code == 403
    # statements scopes give no right on documents, statements/read opens /activities, /agents
    for headers in (statements_reader, statements_writer):
        assert client.get(STATE, params=state(), headers=headers).status_code == 403
    activities = client.get("/xAPI/activities", params={"activityId": ACTIVITY},
                            headers=statements_reader)
    assert activities.status_code == 200
    assert client.get("/xAPI/agents", params={"agent": AGENT},
                      headers=statements_reader).status_code == 200
    assert client.get("/xAPI/agents", params={"agent": AGENT},
                      headers=statements_writer).status_code == 403
    anonymous = {"X-Experience-API-Version": "1.0.3"}
    assert client.get("/xAPI/agents", params={"agent": AGENT}, headers=anonymous
                      ).status_code == 401
    assert client.get(STATE, params=state(), headers=anonymous).status_code == 401


def test_tenants_are_isolated(client: TestClient, registry: TenantRegistry) -> None:
    caen = basic(registry.add_credential("caen", scopes=("all",)))
    rouen = basic(registry.add_credential("rouen", scopes=("all",)))
    client.put(STATE, params=state(), json={"city": "caen"}, headers=caen)
    assert client.get(STATE, params=state(), headers=rouen).status_code == 404
    assert client.get(STATE, params=state(None), headers=rouen).json() == []
    client.put(STATE, params=state(), json={"city": "rouen"}, headers=rouen)
    client.delete(STATE, params=state(None), headers=rouen)
    assert client.get(STATE, params=state(), headers=caen).json() == {"city": "caen"}
    client.post("/xAPI/statements", json=s.viewed(), headers=caen)
    course = f"{s.MOODLE}/course/view.php?id=12"
    seen_by_rouen = client.get("/xAPI/activities", params={"activityId": course}, headers=rouen)
    assert "definition" not in seen_by_rouen.json()


def test_documents_survive_a_new_app(
    backend: LrsBackend, registry: TenantRegistry, writer: dict[str, str]
) -> None:
    """Durable before 204: a new application over the same data serves the document, and
    it lives in the tenant's own file or schema."""
    app = backend.app(registry)
    with TestClient(app) as first:
        assert first.put(STATE, params=state(), json={"k": 1}, headers=writer).status_code == 204
    close_app(app)
    again = backend.app(registry)
    with TestClient(again) as second:
        assert second.get(STATE, params=state(), headers=writer).json() == {"k": 1}
    close_app(again)
    assert backend.stored_tenants() == ["caen"]
    assert backend.count("caen", "documents") == 1


def test_racing_writers_with_the_same_etag_one_wins(backend: LrsBackend) -> None:
    """The precondition is checked in the write transaction: of N writers holding the same
    ETag, exactly one succeeds and the others get 412."""
    from concurrent.futures import ThreadPoolExecutor

    from vigie.lrs.documents import DocumentKey, PreconditionFailed, Preconditions

    store = backend.documents()
    key = DocumentKey("agent_profile", agent="mbox:mailto:a@b.example", doc_id="p")
    first = store.write(key, b"{}", "application/json", tenant="caen")

    def attempt(n: int) -> bool:
        try:
            store.write(
                key, f'{{"n":{n}}}'.encode(), "application/json", tenant="caen",
                conditions=Preconditions(if_match=first.etag, required=True),
            )
        except PreconditionFailed:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count(True) == 1
    store.close()
    assert backend.count("caen", "documents") == 1


def test_racing_creators_one_wins(backend: LrsBackend) -> None:
    """`If-None-Match: *` is checked in the write transaction too, though there is no stored
    document yet to lock: of N writers creating the same document, exactly one succeeds."""
    from concurrent.futures import ThreadPoolExecutor

    from vigie.lrs.documents import DocumentKey, PreconditionFailed, Preconditions

    store = backend.documents()
    key = DocumentKey("activity_profile", activity_id="http://a.example/1", doc_id="new")

    def attempt(n: int) -> bool:
        try:
            store.write(
                key, f'{{"n":{n}}}'.encode(), "application/json", tenant="caen",
                conditions=Preconditions(if_none_match="*", required=True),
            )
        except PreconditionFailed:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    assert store.get(key, tenant="caen").content == f'{{"n":{winner}}}'.encode()
    store.close()


def test_a_document_key_too_long_to_index_is_a_400_on_postgresql(
    backend: LrsBackend, client: TestClient, writer: dict[str, str]
) -> None:
    """A PostgreSQL index entry holds about 2.7 kB: a longer (incompressible) key is refused
    with a message naming the parameters, never a 500; SQLite has no such limit."""
    import base64
    import os

    long_id = base64.b64encode(os.urandom(6000)).decode()
    response = client.put(STATE, params=state(long_id), json={"k": 1}, headers=writer)
    if backend.server is None:
        assert response.status_code == 204
        return
    assert response.status_code == 400
    assert "activityId, agent and the document id are too long" in response.json()["message"]
    assert client.put(STATE, params=state(), json={"k": 1}, headers=writer).status_code == 204


def test_a_document_key_holding_u0000_is_a_400_on_postgresql(
    backend: LrsBackend, client: TestClient, writer: dict[str, str]
) -> None:
    """PostgreSQL text cannot hold U+0000: a 400 naming the parameters, never a 500."""
    expected = 204 if backend.server is None else 400
    response = client.put(STATE, params=state("a\x00b"), json={"k": 1}, headers=writer)
    assert response.status_code == expected
    if backend.server is not None:
        assert "U+0000" in response.json()["message"]
        assert client.get(STATE, params=state("a\x00b"), headers=writer).status_code == 400
