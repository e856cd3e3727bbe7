"""The /xAPI/statements and /xAPI/about resources over HTTP (FastAPI TestClient)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.lrs import statements as s
from tests.lrs.conftest import VERSION, LrsBackend, basic, close_app
from vigie.lrs.tenants import TenantRegistry

URL = "/xAPI/statements"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def post(client: TestClient, headers: dict[str, str], body: Any) -> list[str]:
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 200, response.text
    ids: list[str] = response.json()
    return ids


def query(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert "X-Experience-API-Consistent-Through" in response.headers
    result: dict[str, Any] = response.json()
    return result


def void(target: str) -> dict[str, Any]:
    return {
        "actor": {"mbox": "mailto:admin@unicaen.example"},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": target},
    }


# -- about and version header -----------------------------------------------------------------


def test_about_needs_no_version_nor_credentials(client: TestClient) -> None:
    response = client.get("/xAPI/about")
    assert response.status_code == 200
    assert response.json() == {"version": ["1.0.3", "2.0.0"]}
    assert response.headers["X-Experience-API-Version"] == "1.0.3"


def test_version_header_rules(client: TestClient, writer: dict[str, str]) -> None:
    auth = {"Authorization": writer["Authorization"]}
    missing = client.get(URL, headers=auth)
    assert missing.status_code == 400
    assert "X-Experience-API-Version" in missing.json()["message"]
    assert missing.headers["X-Experience-API-Version"] == "1.0.3"
    for bad in ("0.95", "1.1.0", "2.1.0", "3.0", "one"):
        response = client.get(URL, headers={**auth, "X-Experience-API-Version": bad})
        assert response.status_code == 400, bad
    for good in ("1.0", "1.0.0", "1.0.3", "1.0.9"):
        response = client.get(URL, headers={**auth, "X-Experience-API-Version": good})
        assert response.status_code == 200, good
        assert response.headers["X-Experience-API-Version"] == "1.0.3"


# -- writing ------------------------------------------------------------------------------------


def test_put_then_get_single(client: TestClient, writer: dict[str, str]) -> None:
    statement_id = str(uuid.uuid4())
    response = client.put(
        URL, params={"statementId": statement_id}, json=s.viewed(), headers=writer
    )
    assert response.status_code == 204, response.text
    got = client.get(URL, params={"statementId": statement_id}, headers=writer)
    assert got.status_code == 200
    body = got.json()
    assert body["id"] == statement_id
    assert body["version"] == "1.0.0"
    assert body["stored"].endswith("Z")
    assert body["authority"]["account"]["homePage"] == "urn:vigie:lrs:caen"
    assert body["authority"]["name"] == "moodle-caen"
    assert got.headers["Last-Modified"].endswith("GMT")
    assert body["context"]["contextActivities"]["category"][0]["id"] == s.MOODLE


def test_put_rules(client: TestClient, writer: dict[str, str]) -> None:
    no_id = client.put(URL, json=s.viewed(), headers=writer)
    assert no_id.status_code == 400 and "statementId" in no_id.json()["message"]
    bad_id = client.put(URL, params={"statementId": "12"}, json=s.viewed(), headers=writer)
    assert bad_id.status_code == 400 and "statementId: must be a UUID" in bad_id.json()["message"]
    mismatch = client.put(
        URL,
        params={"statementId": str(uuid.uuid4())},
        json=s.viewed(id=str(uuid.uuid4())),
        headers=writer,
    )
    assert mismatch.status_code == 400 and "differs from statementId" in mismatch.json()["message"]
    array = client.put(
        URL, params={"statementId": str(uuid.uuid4())}, json=[s.viewed()], headers=writer
    )
    assert array.status_code == 400


def test_post_single_and_batch_return_ids_in_order(
    client: TestClient, writer: dict[str, str]
) -> None:
    given = str(uuid.uuid4())
    [one] = post(client, writer, s.viewed())
    ids = post(client, writer, [s.viewed(2), s.viewed(3, id=given), s.quiz_answer()])
    assert len(ids) == 3 and ids[1] == given
    assert len({one, *ids}) == 4


def test_authority_given_by_the_client_is_replaced(
    client: TestClient, writer: dict[str, str]
) -> None:
    [statement_id] = post(client, writer, s.viewed(authority={"mbox": "mailto:me@x.example"}))
    got = client.get(URL, params={"statementId": statement_id}, headers=writer).json()
    assert got["authority"]["account"]["homePage"] == "urn:vigie:lrs:caen"


def test_immutability_same_content_is_noop_different_is_409(
    client: TestClient, writer: dict[str, str]
) -> None:
    statement = s.viewed(id=str(uuid.uuid4()))
    post(client, writer, statement)
    same = copy.deepcopy(statement)
    same["timestamp"] = "2024-09-02T06:30:00.123Z"  # same instant, another offset
    assert post(client, writer, same) == [statement["id"]]
    put = client.put(URL, params={"statementId": statement["id"]}, json=same, headers=writer)
    assert put.status_code == 204
    different = copy.deepcopy(statement)
    different["verb"]["id"] = "http://adlnet.gov/expapi/verbs/completed"
    assert client.post(URL, json=different, headers=writer).status_code == 409
    assert (
        client.put(
            URL, params={"statementId": statement["id"]}, json=different, headers=writer
        ).status_code
        == 409
    )
    assert len(query(client, writer)["statements"]) == 1


def test_batch_is_atomic(client: TestClient, writer: dict[str, str]) -> None:
    existing = s.viewed(id=str(uuid.uuid4()))
    post(client, writer, existing)
    clash = copy.deepcopy(existing)
    clash["verb"]["id"] = "http://x.example/other"
    response = client.post(URL, json=[s.viewed(7), clash], headers=writer)
    assert response.status_code == 409
    assert len(query(client, writer)["statements"]) == 1


def test_batch_repeating_an_id_is_400(client: TestClient, writer: dict[str, str]) -> None:
    same = str(uuid.uuid4())
    response = client.post(URL, json=[s.viewed(id=same), s.viewed(2, id=same)], headers=writer)
    assert response.status_code == 400 and "more than once" in response.json()["message"]


def test_oversized_body_is_413(client: TestClient, writer: dict[str, str]) -> None:
    big = [s.quiz_answer() for _ in range(300)]
    response = client.post(URL, json=big, headers=writer)
    assert response.status_code == 413
    assert "bytes" in response.json()["message"]


def test_unsupported_request_forms_are_explained(
    client: TestClient, writer: dict[str, str]
) -> None:
    multipart = client.post(
        URL, content=b"--x", headers={**writer, "Content-Type": "multipart/mixed; boundary=x"}
    )
    assert multipart.status_code == 400 and "multipart" in multipart.json()["message"]
    attachment = s.viewed(
        attachments=[
            {
                "usageType": "http://x.org/u",
                "display": {"fr": "a"},
                "contentType": "text/plain",
                "length": 1,
                "sha2": "c" * 64,
            }
        ]
    )
    response = client.post(URL, json=attachment, headers=writer)
    assert response.status_code == 400 and "attachments[0].fileUrl" in response.json()["message"]


def test_fastapi_validation_errors_are_400_not_422(
    client: TestClient, writer: dict[str, str]
) -> None:
    response = client.get(URL, params={"limit": "-1"}, headers=writer)
    assert response.status_code == 400
    assert response.json()["message"].startswith("limit:")


# -- reading ------------------------------------------------------------------------------------


def test_head_returns_headers_without_body(client: TestClient, writer: dict[str, str]) -> None:
    [statement_id] = post(client, writer, s.viewed())
    response = client.head(URL, params={"statementId": statement_id}, headers=writer)
    assert response.status_code == 200
    assert response.content == b""
    assert "Last-Modified" in response.headers
    assert "X-Experience-API-Consistent-Through" in response.headers


def test_get_single_rules(client: TestClient, writer: dict[str, str]) -> None:
    missing = client.get(URL, params={"statementId": str(uuid.uuid4())}, headers=writer)
    assert missing.status_code == 404
    both = client.get(
        URL,
        params={"statementId": str(uuid.uuid4()), "voidedStatementId": str(uuid.uuid4())},
        headers=writer,
    )
    assert both.status_code == 400
    extra = client.get(
        URL, params={"statementId": str(uuid.uuid4()), "verb": "http://x.org/v"}, headers=writer
    )
    assert extra.status_code == 400 and "verb" in extra.json()["message"]


def test_more_pagination_walks_every_statement_once(
    client: TestClient, writer: dict[str, str]
) -> None:
    ids = post(client, writer, [s.viewed(n) for n in range(7)])
    page = query(client, writer, limit=3)
    seen = [st["id"] for st in page["statements"]]
    while page["more"]:
        assert page["more"].startswith("/xAPI/statements?more=")
        response = client.get(page["more"], headers=writer)
        assert response.status_code == 200
        page = response.json()
        seen += [st["id"] for st in page["statements"]]
    assert seen == list(reversed(ids))
    ascending = query(client, writer, limit=4, ascending="true")
    assert [st["id"] for st in ascending["statements"]] == ids[:4]


def test_more_pages_are_consistent_with_the_first(
    client: TestClient, writer: dict[str, str]
) -> None:
    post(client, writer, [s.viewed(n) for n in range(4)])
    page = query(client, writer, limit=2)
    post(client, writer, s.viewed(99))  # arrives after the first page
    rest = client.get(page["more"], headers=writer).json()
    assert all(st["actor"]["account"]["name"] != "e00099" for st in rest["statements"])
    assert len(rest["statements"]) == 2 and rest["more"] == ""


def test_damaged_more_token_is_400(client: TestClient, writer: dict[str, str]) -> None:
    response = client.get(URL, params={"more": "%%%notatoken"}, headers=writer)
    assert response.status_code == 400 and "more" in response.json()["message"]


def test_limit_is_capped_by_the_server(client: TestClient, writer: dict[str, str]) -> None:
    post(client, writer, [s.viewed(n) for n in range(60)])
    page = query(client, writer)
    assert len(page["statements"]) == 50 and page["more"]


def test_filters(client: TestClient, writer: dict[str, str]) -> None:
    quiz = s.quiz_answer()
    sub = s.all_valid()[6]
    ids = post(client, writer, [s.viewed(1, course=12), s.viewed(2, course=13), quiz, sub])
    viewed12, viewed13, quiz_id, sub_id = ids

    def found(**params: Any) -> set[str]:
        return {st["id"] for st in query(client, writer, **params)["statements"]}

    assert found(agent=json.dumps(s.learner(1))) == {viewed12, sub_id}
    # the domain of an e-mail address is case-insensitive, its local part is not
    assert found(agent=json.dumps({"mbox": "mailto:Etu.Dupont@unicaen.EXAMPLE"})) == {quiz_id}
    assert found(agent=json.dumps({"mbox": "mailto:etu.dupont@unicaen.example"})) == set()
    assert found(agent=json.dumps(s.learner(2))) == {viewed13}
    assert found(agent=json.dumps(s.learner(2)), related_agents="true") == {viewed13, quiz_id}
    assert found(agent=json.dumps(s.learner(5)), related_agents="true") == {sub_id}
    assert found(verb="http://adlnet.gov/expapi/verbs/answered") == {quiz_id}
    assert found(activity=f"{s.MOODLE}/course/view.php?id=12") == {viewed12}
    assert found(activity=f"{s.MOODLE}/course/view.php?id=12", related_activities="true") == {
        viewed12,
        quiz_id,
    }
    assert found(activity=f"{s.MOODLE}/course/view.php?id=13", related_activities="true") == {
        viewed13,
        sub_id,
    }
    assert found(registration="EC531277-B57B-4C15-8D91-D292C5B2B8F7") == {quiz_id}
    stored = {st["id"]: st["stored"] for st in query(client, writer)["statements"]}
    assert found(since=stored[viewed13]) == {quiz_id, sub_id}
    assert found(until=stored[viewed13]) == {viewed12, viewed13}
    assert found(since=stored[viewed12], until=stored[quiz_id]) == {viewed13, quiz_id}


def test_filter_parameters_are_validated(client: TestClient, writer: dict[str, str]) -> None:
    for params, field in [
        ({"agent": '{"mbox": "x"}'}, "agent.mbox"),
        ({"agent": "not json"}, "agent"),
        ({"verb": "viewed"}, "verb"),
        ({"registration": "x"}, "registration"),
        ({"since": "yesterday"}, "since"),
        ({"related_agents": "yes"}, "related_agents"),
        ({"format": "full"}, "format"),
        ({"colour": "blue"}, "colour"),
    ]:
        response = client.get(URL, params=params, headers=writer)
        assert response.status_code == 400, params
        assert response.json()["message"].startswith(field), response.json()["message"]


def test_formats(client: TestClient, writer: dict[str, str]) -> None:
    post(client, writer, s.quiz_answer())
    ids = query(client, writer, format="ids")["statements"][0]
    assert ids["verb"] == {"id": "http://adlnet.gov/expapi/verbs/answered"}
    assert ids["object"] == {"id": f"{s.MOODLE}/mod/quiz/q/7"}  # ids: the id only
    assert ids["context"]["team"]["member"][0] == {"account": s.learner(2)["account"]}
    response = client.get(
        URL, params={"format": "canonical"}, headers={**writer, "Accept-Language": "en;q=0.9, de"}
    )
    canonical = response.json()["statements"][0]
    assert canonical["object"]["definition"]["description"] == {"en": "Which colour?"}
    assert canonical["object"]["definition"]["choices"][1]["description"] == {"fr": "Rouge"}
    assert canonical["verb"]["display"] == {"fr": "a répondu"}
    exact = query(client, writer)["statements"][0]
    assert len(exact["object"]["definition"]["description"]) == 2


# -- voiding ------------------------------------------------------------------------------------


def test_voiding_hides_the_target_and_keeps_the_voiding_statement(
    client: TestClient, writer: dict[str, str]
) -> None:
    [target] = post(client, writer, s.viewed(1, course=12))
    [voiding] = post(client, writer, void(target))
    listed = {st["id"] for st in query(client, writer)["statements"]}
    assert listed == {voiding}
    assert client.get(URL, params={"statementId": target}, headers=writer).status_code == 404
    again = client.get(URL, params={"voidedStatementId": target}, headers=writer)
    assert again.status_code == 200 and again.json()["id"] == target
    assert client.get(URL, params={"voidedStatementId": voiding}, headers=writer).status_code == 404
    # the voiding statement matches the filters its target matches (StatementRef rule)
    by_activity = query(client, writer, activity=f"{s.MOODLE}/course/view.php?id=12")
    assert [st["id"] for st in by_activity["statements"]] == [voiding]


def test_voiding_before_the_target_arrives(client: TestClient, writer: dict[str, str]) -> None:
    target = str(uuid.uuid4())
    post(client, writer, void(target))
    post(client, writer, s.viewed(id=target))
    assert client.get(URL, params={"voidedStatementId": target}, headers=writer).status_code == 200


def test_voiding_a_voiding_statement_is_rejected(
    client: TestClient, writer: dict[str, str]
) -> None:
    [target] = post(client, writer, s.viewed())
    [voiding] = post(client, writer, void(target))
    response = client.post(URL, json=void(voiding), headers=writer)
    assert response.status_code == 400
    assert "cannot be voided" in response.json()["message"]
    first = str(uuid.uuid4())
    batch = [{**void(target), "id": first}, void(first)]
    assert client.post(URL, json=batch, headers=writer).status_code == 400


def test_statement_ref_rule_applies_to_other_verbs(
    client: TestClient, writer: dict[str, str]
) -> None:
    [target] = post(client, writer, s.viewed(1, course=40))
    confirm = s.viewed(9, course=41, object={"objectType": "StatementRef", "id": target})
    confirm.pop("context")
    [confirming] = post(client, writer, confirm)
    found = query(client, writer, agent=json.dumps(s.learner(1)))["statements"]
    assert {st["id"] for st in found} == {target, confirming}


# -- durability -----------------------------------------------------------------------------------


def test_acknowledged_statement_survives_a_new_app(
    backend: LrsBackend, registry: TenantRegistry
) -> None:
    credential = registry.add_credential("caen", scopes=("all",))
    first = backend.app(registry)
    with TestClient(first) as client:
        [statement_id] = post(client, basic(credential), s.viewed())
    # no close(): the second app must see what the first acknowledged, as after a crash
    second_registry = backend.registry()
    second = backend.app(second_registry)
    with TestClient(second) as client:
        got = client.get(URL, params={"statementId": statement_id}, headers=basic(credential))
        assert got.status_code == 200
    close_app(second)
    close_app(first)
    second_registry.close()


def test_request_without_version_header_but_valid_about(client: TestClient) -> None:
    assert client.get("/xAPI/about", headers=VERSION).status_code == 200


def test_statements_get_errors_carry_the_consistency_header(
    client: TestClient, writer: dict[str, str]
) -> None:
    """Communication 2.1.3: the header is on every statements GET answer, errors included."""
    bad = client.get("/xAPI/statements", params={"LIMIT": "1"}, headers=writer)
    missing = client.get("/xAPI/statements",
                         params={"statementId": "e0d2ed72-8c4a-4c6b-9d8e-3d9c1b6b6f11"},
                         headers=writer)
    assert (bad.status_code, missing.status_code) == (400, 404)
    for response in (bad, missing):
        assert "X-Experience-API-Consistent-Through" in response.headers


def test_statement_without_timestamp_gets_stored_and_version_10_is_accepted(
    client: TestClient, writer: dict[str, str]
) -> None:
    statement = {"actor": {"mbox": "mailto:a@example.org"}, "version": "1.0",
                 "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                 "object": {"id": "http://example.org/activity/1"}}
    posted = client.post("/xAPI/statements", json=statement, headers=writer)
    assert posted.status_code == 200, posted.text
    got = client.get("/xAPI/statements", params={"statementId": posted.json()[0]},
                     headers=writer).json()
    assert got["timestamp"] == got["stored"]


def test_authority_group_must_be_anonymous_with_two_members(
    client: TestClient, writer: dict[str, str]
) -> None:
    def with_authority(authority: dict[str, Any]) -> int:
        statement = {"actor": {"mbox": "mailto:a@example.org"},
                     "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                     "object": {"id": "http://example.org/activity/1"}, "authority": authority}
        status: int = client.post("/xAPI/statements", json=statement,
                                  headers=writer).status_code
        return status

    member = {"mbox": "mailto:app@example.org"}
    other = {"account": {"homePage": "https://lms.example.org", "name": "u1"}}
    assert with_authority({"objectType": "Group", "member": [member, other]}) == 200
    assert with_authority({"objectType": "Group", "member": [member]}) == 400
    assert with_authority({"objectType": "Group", "member": [member, other, member]}) == 400
    assert with_authority({"objectType": "Group", "mbox": "mailto:g@example.org",
                           "member": [member, other]}) == 400
    assert with_authority(member) == 200


def test_extensions_keep_big_integers_and_refuse_non_finite_numbers(
    client: TestClient, writer: dict[str, str]
) -> None:
    """Extensions are free JSON: an integer beyond 64 bits (which orjson cannot write) is
    stored and read back exactly, and sent again it is the same statement; NaN and 1e999 (an
    infinity once parsed) are refused with the path of the value, before anything is stored."""
    big = {**s.viewed(1), "id": str(uuid.uuid4()),
           "result": {"extensions": {"http://x.example/big": 2**70, "http://x.example/é": "ü"}}}
    [statement_id] = post(client, writer, big)
    got = client.get(URL, params={"statementId": statement_id}, headers=writer).json()
    assert got["result"]["extensions"] == {"http://x.example/big": 2**70,
                                           "http://x.example/é": "ü"}
    assert post(client, writer, big) == [statement_id]
    for value in ("NaN", "1e999", "-1e999"):
        body = json.dumps({**s.viewed(2), "context": {"extensions": {
            "http://x.example/n": {"list": [1, None, "__VALUE__"]}}}}).replace(
            '"__VALUE__"', value)
        refused = client.post(URL, content=body, headers={**writer,
                                                          "Content-Type": "application/json"})
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"].startswith(
            "context.extensions.http://x.example/n.list[2]: must be a finite number")
    assert len(query(client, writer)["statements"]) == 1


def test_consistency_header_covers_the_statements_answered(
    client: TestClient, writer: dict[str, str]
) -> None:
    """Idle, the header is the current time (every statement stored before it is visible); a
    `more` page keeps the newest `stored` time at its bound, since its answer is fixed when the
    first page is read (`statement_query.consistency_sql`)."""
    ids = post(client, writer, [s.viewed(n) for n in range(3)])
    page = client.get(URL, params={"limit": 1}, headers=writer)
    newest = client.get(URL, params={"statementId": ids[-1]}, headers=writer)
    stored = newest.json()["stored"]
    assert page.headers["X-Experience-API-Consistent-Through"] > stored
    assert newest.headers["X-Experience-API-Consistent-Through"] > stored
    post(client, writer, s.viewed(4))
    more = client.get(page.json()["more"], headers=writer)
    assert more.headers["X-Experience-API-Consistent-Through"] == stored
