"""The xAPI document resources and the Activities / Agents resources (1.0.3 Communication
2.2 to 2.7 and concurrency 3.1; 2.0.0 sections 4.1.4 and 4.1.6.2 to 4.1.6.6).

    /xAPI/activities/state     activityId, agent, stateId, [registration]   scope `state`
    /xAPI/activities/profile   activityId, profileId                          scope `profile`
    /xAPI/agents/profile       agent, profileId                               scope `profile`
    /xAPI/activities           activityId (GET)                  `statements/read` or `all/read`
    /xAPI/agents               agent (GET)                       `statements/read` or `all/read`

Scopes: writes (PUT, POST, DELETE) need the resource's scope (`state` or `profile`) or `all`;
reads (GET, HEAD) accept that scope or `all/read`. The specification gives `statements/read`
no right on documents (they are not statements), so it does not open them; it does open
`/activities` and `/agents`, whose answers are derived from statements.

As for statements, handlers read the raw query string so every error is a 400 naming the
parameter, never FastAPI's 422. The versions differ only in the preconditions a PUT needs
(`versions.Rules`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from vigie.lrs.documents import (
    Document,
    DocumentKey,
    DocumentKind,
    DocumentStore,
    Preconditions,
    etag_of,
    is_json_type,
)
from vigie.lrs.errors import BadRequest, describe
from vigie.lrs.formats import agent_key, utc_timestamp
from vigie.lrs.jsontext import json_text
from vigie.lrs.models import IRI, UUID, Agent, Timestamp
from vigie.lrs.store import StatementQuery, StatementStore
from vigie.lrs.tenants import Credential
from vigie.lrs.versions import RULES, request_version

__all__ = ["document_router"]

CredentialOf = Callable[..., Awaitable[Credential]]
ReadBody = Callable[[Request], Awaitable[bytes]]

_AGENT: TypeAdapter[Agent] = TypeAdapter(Agent)
_IRI: TypeAdapter[str] = TypeAdapter(IRI)
_UUID: TypeAdapter[str] = TypeAdapter(UUID)
_TIMESTAMP: TypeAdapter[str] = TypeAdapter(Timestamp)
_DEFINITION_SCAN = 200  # statements read, newest first, to build an Activity's definition


@dataclass(frozen=True)
class _Resource:
    path: str
    kind: DocumentKind
    id_param: str
    activity: bool
    agent: bool
    registration: bool
    scope: str
    put_needs_precondition: bool
    name: str


_RESOURCES = (
    _Resource(
        "/xAPI/activities/state", "state", "stateId", activity=True, agent=True,
        registration=True, scope="state", put_needs_precondition=False, name="state",
    ),
    _Resource(
        "/xAPI/activities/profile", "activity_profile", "profileId", activity=True,
        agent=False, registration=False, scope="profile", put_needs_precondition=True,
        name="activity profile",
    ),
    _Resource(
        "/xAPI/agents/profile", "agent_profile", "profileId", activity=False, agent=True,
        registration=False, scope="profile", put_needs_precondition=True, name="agent profile",
    ),
)



def _refuse_constant(name: str) -> float:
    """`NaN`, `Infinity`: not JSON, and once stored they would make every read invalid."""
    raise ValueError(f"{name} is not a JSON number")

def _valid(adapter: TypeAdapter[Any], name: str, value: str) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise BadRequest(describe(exc, prefix=name)) from None


def _agent(text: str) -> Agent:
    try:
        return _AGENT.validate_json(text)
    except ValidationError as exc:
        raise BadRequest(describe(exc, prefix="agent")) from None


def _agent_key(text: str) -> str:
    key = agent_key(_agent(text).model_dump(mode="json"))
    if key is None:  # unreachable: an Agent has exactly one identifier
        raise BadRequest("agent: must have an identifier")
    return key


def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if "method" in params:
        raise BadRequest("the alternate request syntax (method=…) is not supported yet")
    return params


def _key(
    resource: _Resource, params: dict[str, str], *, method: str, single: bool | None
) -> tuple[DocumentKey, str | None]:
    """The document (or context) addressed by the parameters, and `since` when listing.

    `single`: True when the id is required, None when its presence decides (GET, DELETE)."""
    has_id = resource.id_param in params
    single = has_id if single is None else single
    allowed = {resource.id_param} if single else {"since"} if method in ("GET", "HEAD") else set()
    allowed |= {"activityId"} if resource.activity else set()
    allowed |= {"agent"} if resource.agent else set()
    allowed |= {"registration"} if resource.registration else set()
    unknown = sorted(set(params) - allowed)
    if unknown:
        why = f"not allowed with {resource.id_param}" if single and unknown[0] == "since" else (
            f"not a parameter of {method} {resource.path.removeprefix('/xAPI')}"
        )
        raise BadRequest(f"{unknown[0]}: {why}")
    for needed in ("activityId", "agent"):
        if getattr(resource, needed.removesuffix("Id")) and needed not in params:
            raise BadRequest(f"{needed}: required by the {resource.name} resource")
    if single and not has_id:
        raise BadRequest(f"{resource.id_param}: required to {method} one {resource.name} document")
    if has_id and not params[resource.id_param]:
        raise BadRequest(f"{resource.id_param}: must not be empty")
    registration = params.get("registration")
    since = params.get("since")
    key = DocumentKey(
        kind=resource.kind,
        activity_id=_valid(_IRI, "activityId", params["activityId"]) if resource.activity else "",
        agent=_agent_key(params["agent"]) if resource.agent else "",
        registration=(
            _valid(_UUID, "registration", registration).lower()
            if registration is not None else None
        ),
        doc_id=params.get(resource.id_param, ""),
    )
    return key, utc_timestamp(_valid(_TIMESTAMP, "since", since)) if since else None


def _conditions(request: Request, resource: _Resource) -> Preconditions:
    """The preconditions of a write (PUT, POST, DELETE) under the request's version's rules:
    only a PUT may be refused for sending none."""
    rules = RULES[request_version(request.scope)]
    put = request.method == "PUT"
    return Preconditions(
        if_match=request.headers.get("if-match"),
        if_none_match=request.headers.get("if-none-match"),
        required=put and (resource.put_needs_precondition
                          or rules.state_put_needs_precondition),
        to_create=resource.put_needs_precondition and rules.profile_create_needs_precondition,
    )


def _http_date(updated: str) -> str:
    return format_datetime(datetime.fromisoformat(updated.replace("Z", "+00:00")), usegmt=True)


def _serve(request: Request, content: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """GET answers the content; HEAD the same headers (Content-Length included), no body."""
    if request.method == "HEAD":
        headers = {**headers, "Content-Length": str(len(content))}
        return Response(b"", 200, headers, media_type=media_type)
    return Response(content, 200, headers, media_type=media_type)


def _activities(statement: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Activity object of a statement: object, SubStatement, context activities."""
    obj = statement["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        yield obj
    elif kind == "SubStatement":
        yield from _activities(obj)
    context = statement.get("context") or {}
    for activities in (context.get("contextActivities") or {}).values():
        yield from activities


def canonical_activity(activity_id: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    """The Activity as the LRS knows it from statements (newest first): the newest definition,
    with properties and languages it lacks filled from older definitions."""
    definition: dict[str, Any] = {}
    for statement in statements:
        for activity in _activities(statement):
            older = activity.get("definition")
            if activity["id"] != activity_id or not older:
                continue
            for key, value in older.items():
                if key not in definition:
                    definition[key] = copy.deepcopy(value)
                elif key in ("name", "description") and isinstance(value, dict):
                    for language, text in value.items():
                        definition[key].setdefault(language, text)
    result: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        result["definition"] = definition
    return result


def person(agent: Agent) -> dict[str, Any]:
    """The Person object of an Agent the LRS knows nothing more about (Communication 2.4)."""
    data = agent.model_dump(mode="json")
    result: dict[str, Any] = {"objectType": "Person"}
    for key in ("name", "mbox", "mbox_sha1sum", "openid", "account"):
        if key in data:
            result[key] = [data[key]]
    return result


def document_router(
    *,
    credential_of: CredentialOf,
    read_body: ReadBody,
    documents: DocumentStore,
    statements: StatementStore,
) -> APIRouter:
    """Routes of the document, Activities and Agents resources.

    `credential_of(request, *scopes)` authenticates and checks scopes (403 otherwise);
    `read_body(request)` reads the body within the LRS's size limit (413 otherwise).
    """
    router = APIRouter()
    for resource in _RESOURCES:
        _mount(router, resource, credential_of, read_body, documents)

    @router.api_route("/xAPI/activities", methods=["GET", "HEAD"])
    async def get_activity(request: Request) -> Response:
        credential = await credential_of(request, "statements/read", "all/read")
        params = _params(request)
        unknown = sorted(set(params) - {"activityId"})
        if unknown:
            raise BadRequest(f"{unknown[0]}: not a parameter of GET /activities")
        if "activityId" not in params:
            raise BadRequest("activityId: required by the Activities resource")
        activity_id = _valid(_IRI, "activityId", params["activityId"])
        query = StatementQuery(
            activity=activity_id, related_activities=True, limit=_DEFINITION_SCAN
        )
        found, _ = await run_in_threadpool(
            lambda: statements.query(query, tenant=credential.tenant)
        )
        content = json_text(canonical_activity(activity_id, found))
        return _serve(request, content, "application/json", {"ETag": etag_of(content)})

    @router.api_route("/xAPI/agents", methods=["GET", "HEAD"])
    async def get_person(request: Request) -> Response:
        await credential_of(request, "statements/read", "all/read")
        params = _params(request)
        unknown = sorted(set(params) - {"agent"})
        if unknown:
            raise BadRequest(f"{unknown[0]}: not a parameter of GET /agents")
        if "agent" not in params:
            raise BadRequest("agent: required by the Agents resource")
        content = json_text(person(_agent(params["agent"])))
        return _serve(request, content, "application/json", {"ETag": etag_of(content)})

    return router


def _mount(
    router: APIRouter,
    resource: _Resource,
    credential_of: CredentialOf,
    read_body: ReadBody,
    documents: DocumentStore,
) -> None:
    write_scopes = (resource.scope,)
    read_scopes = (resource.scope, "all/read")

    async def write(request: Request) -> Response:
        credential = await credential_of(request, *write_scopes)
        key, _ = _key(resource, _params(request), method=request.method, single=True)
        content_type = request.headers.get("content-type") or "application/octet-stream"
        body = await read_body(request)
        post = request.method == "POST"
        if is_json_type(content_type):
            try:
                parsed = json.loads(body, parse_constant=_refuse_constant)
            except (ValueError, RecursionError):
                raise BadRequest(
                    "document: the body is not valid JSON (or nested too deeply, or has "
                    "NaN/Infinity), yet Content-Type says application/json"
                ) from None
            if post and not isinstance(parsed, dict):
                raise BadRequest("document: POST takes a JSON Object to merge")
        conditions = _conditions(request, resource)
        document = await run_in_threadpool(
            lambda: documents.write(
                key, body, content_type, tenant=credential.tenant, merge=post,
                conditions=conditions,
            )
        )
        return Response(status_code=204, headers={"ETag": document.etag})

    async def read(request: Request) -> Response:
        credential = await credential_of(request, *read_scopes)
        params = _params(request)
        key, since = _key(resource, params, method=request.method, single=None)
        if resource.id_param in params:
            document: Document = await run_in_threadpool(
                lambda: documents.get(key, tenant=credential.tenant)
            )
            headers = {"ETag": document.etag, "Last-Modified": _http_date(document.updated)}
            return _serve(request, document.content, document.content_type, headers)
        ids, latest = await run_in_threadpool(
            lambda: documents.ids(key, tenant=credential.tenant, since=since)
        )
        content = json_text(ids)
        headers = {"ETag": etag_of(content)}
        if latest is not None:
            headers["Last-Modified"] = _http_date(latest)
        return _serve(request, content, "application/json", headers)

    async def delete(request: Request) -> Response:
        credential = await credential_of(request, *write_scopes)
        params = _params(request)
        single = True if resource.kind != "state" else None
        key, _ = _key(resource, params, method="DELETE", single=single)
        if resource.id_param in params:
            conditions = _conditions(request, resource)
            await run_in_threadpool(
                lambda: documents.delete(key, tenant=credential.tenant, conditions=conditions)
            )
        else:
            await run_in_threadpool(lambda: documents.delete_all(key, tenant=credential.tenant))
        return Response(status_code=204)

    router.add_api_route(resource.path, write, methods=["PUT", "POST"])
    router.add_api_route(resource.path, read, methods=["GET", "HEAD"])
    router.add_api_route(resource.path, delete, methods=["DELETE"])
