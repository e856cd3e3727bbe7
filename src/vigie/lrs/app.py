"""The xAPI HTTP API: `/xAPI/statements` and `/xAPI/about` (1.0.3 Communication 2.1 and 2.8;
2.0.0 sections 4.1.6.1 and 4.1.6.7), in the version each request asks for (`versions`).

Why handlers read raw bodies and query strings instead of FastAPI parameters: xAPI fixes its
own error contract (400 with a message naming the field, never 422), its own boolean and
timestamp syntaxes, and its own rules on which parameters may be combined; parsing them here,
with the same validators as statements, keeps one source of truth and one error format.
Blocking work runs off the event loop, so that it keeps serving: statement writes in the
tenant's writer thread, which commits concurrent requests together (`group_commit`); reads and
credential checks (scrypt) in the thread pool, except a credential verified since the registry
last changed, answered from memory (`auth.Authenticator.recent`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from vigie.lrs.alternate import AlternateRequestSyntax
from vigie.lrs.attachments import (
    AttachmentStore,
    Part,
    attachment_hashes,
    declared_attachments,
    match_parts,
    media_type,
    multipart_response,
    parse_multipart,
)
from vigie.lrs.auth import Authenticator, Unauthorized
from vigie.lrs.documents import DocumentStore, SQLiteDocumentStore
from vigie.lrs.documents_api import document_router
from vigie.lrs.errors import BadRequest, Forbidden, LrsError, PayloadTooLarge, describe
from vigie.lrs.formats import (
    agent_key,
    canonical_format,
    ids_format,
    utc_timestamp,
    with_utc_timestamps,
)
from vigie.lrs.jsontext import json_text
from vigie.lrs.models import IRI, UUID, Actor, Timestamp
from vigie.lrs.signatures import check_signatures
from vigie.lrs.sqlite_store import SQLiteStatementStore
from vigie.lrs.store import Format, StatementQuery, StatementStore
from vigie.lrs.tenants import Credential, TenantRegistry
from vigie.lrs.validation import parse_statement_body
from vigie.lrs.versions import (
    RULES,
    SCOPE_KEY,
    SUPPORTED,
    XapiVersion,
    negotiate,
    request_version,
)

__all__ = ["create_app"]

_DIGITS = re.compile(r"^[0-9]+$")
_MAX_INT = 2**63 - 1  # SQLite's INTEGER
_TOKEN_TEXT = ("agent", "verb", "activity", "registration", "since", "until")
_TOKEN_FLAGS = ("related_activities", "related_agents", "ascending")
_SINGLE_PARAMS = {"statementId", "voidedStatementId", "format", "attachments"}
_QUERY_PARAMS = {
    "agent", "verb", "activity", "registration", "related_activities", "related_agents",
    "since", "until", "limit", "format", "attachments", "ascending",
}
_ACTOR: TypeAdapter[Any] = TypeAdapter(Actor)
_IRI: TypeAdapter[str] = TypeAdapter(IRI)
_UUID: TypeAdapter[str] = TypeAdapter(UUID)
_TIMESTAMP: TypeAdapter[str] = TypeAdapter(Timestamp)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _XapiVersion:
    """Pure ASGI layer choosing the xAPI version of each request (1.0.3 Communication 3.3,
    2.0.0 section 4.1.2): `1.0.x` is served as 1.0.3, `2.0.x` as 2.0.0, and requests to xAPI
    resources other than /about that declare neither are refused with 400. The choice is left
    in the scope for the handlers (`versions.request_version`), and every response carries it
    in `X-Experience-API-Version`.

    A request declaring no version gets `default` in its answer's header: the two ADL suites
    expect different values there (1.0.3 and 2.0.0), and only the operator knows which
    clients dominate.

    Every answer to a statements GET, errors included, also carries
    `X-Experience-API-Consistent-Through` (Communication 2.1.3: "regardless of the code
    returned"); clients poll on it. Answers carrying statements get it from the store (see
    `statement_query.consistency_sql`); this layer adds the current time to the others, error
    answers, which carry no statements (a 401 names no tenant whose store could be read).
    """

    def __init__(self, app: ASGIApp, *, default: XapiVersion) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        header = Headers(scope=scope).get("x-experience-api-version")
        version = negotiate(header)
        answered = version or self.default
        scope = {**scope, SCOPE_KEY: answered}
        statements_get = (scope["path"].rstrip("/") == "/xAPI/statements"
                          and scope["method"] in ("GET", "HEAD"))

        async def send_versioned(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Experience-API-Version"] = answered
                if statements_get and "x-experience-api-consistent-through" not in headers:
                    headers["X-Experience-API-Consistent-Through"] = _now_iso()
            await send(message)

        path: str = scope["path"]
        if (version is None and path.startswith("/xAPI/")
                and path.rstrip("/") != "/xAPI/about"):
            found = "is missing" if header is None else f"{header!r} is not supported"
            response = _error(
                400, f"X-Experience-API-Version: the header {found}; send "
                + " or ".join(SUPPORTED)
            )
            await response(scope, receive, send_versioned)
            return
        await self.app(scope, receive, send_versioned)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": True, "status": status, "message": message}, status, headers)


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json_text(content), status, headers, media_type="application/json")


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _boolean(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value not in ("true", "false"):
        raise BadRequest(f"{name}: must be true or false, not {value!r}")
    return value == "true"


def _check(adapter: TypeAdapter[Any], name: str, value: str) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise BadRequest(describe(exc, prefix=name)) from None


def _languages(header: str | None) -> tuple[str, ...]:
    """Accept-Language → tags by decreasing quality (RFC 2616 14.4), zero-quality dropped."""
    if not header:
        return ()
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    return tuple(tag for _, _, tag in sorted(ranked))


def _parse_query(params: dict[str, str], languages: tuple[str, ...]) -> StatementQuery:
    unknown = sorted(set(params) - _QUERY_PARAMS)
    if unknown:
        raise BadRequest(f"{unknown[0]}: not a parameter of GET /statements")
    agent = None
    if "agent" in params:
        try:
            actor = _ACTOR.validate_json(params["agent"])
        except ValidationError as exc:
            raise BadRequest(describe(exc, prefix="agent")) from None
        agent = agent_key(actor.model_dump(mode="json"))
        if agent is None:
            raise BadRequest("agent: an anonymous Group cannot be used as a filter")
    limit_text = params.get("limit", "0")
    if not _DIGITS.match(limit_text):  # not str.isdigit: "²" is a digit that int() refuses
        raise BadRequest(f"limit: must be a non-negative integer, not {limit_text!r}")
    significant = limit_text.lstrip("0") or "0"  # int() refuses over 4,300 digits
    fmt = params.get("format", "exact")
    if fmt not in ("ids", "exact", "canonical"):
        raise BadRequest(f"format: must be ids, exact or canonical, not {fmt!r}")
    since = params.get("since")
    until = params.get("until")
    return StatementQuery(
        agent=agent,
        verb=_check(_IRI, "verb", params["verb"]) if "verb" in params else None,
        activity=_check(_IRI, "activity", params["activity"]) if "activity" in params else None,
        registration=(
            _check(_UUID, "registration", params["registration"])
            if "registration" in params else None
        ),
        related_activities=_boolean("related_activities", params.get("related_activities")),
        related_agents=_boolean("related_agents", params.get("related_agents")),
        since=utc_timestamp(_check(_TIMESTAMP, "since", since)) if since else None,
        until=utc_timestamp(_check(_TIMESTAMP, "until", until)) if until else None,
        limit=int(significant) if len(significant) <= 18 else 10**18,
        ascending=_boolean("ascending", params.get("ascending")),
        format=cast(Format, fmt),
        languages=languages,
    )


def _continuation(token: str) -> StatementQuery:
    """The query of a `more` token, its fields type-checked: a forged or damaged token that
    decodes to the wrong types is a 400, not a failure of the store."""
    query = StatementQuery.from_token(token)

    def integer(value: Any) -> bool:
        return type(value) is int and 0 <= value <= _MAX_INT

    valid = (
        all(getattr(query, name) is None or isinstance(getattr(query, name), str)
            for name in _TOKEN_TEXT)
        and all(type(getattr(query, name)) is bool for name in _TOKEN_FLAGS)
        and integer(query.limit)
        and all(value is None or integer(value) for value in (query.after, query.bound))
        and query.format in ("ids", "exact", "canonical")
        and all(isinstance(language, str) for language in query.languages)
    )
    if not valid:
        raise BadRequest("more: not a continuation token issued by this LRS")
    return query


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it exceeds `limit` (before reading it all)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body has {declared} bytes; this LRS accepts {limit} at most")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes, the most this LRS accepts")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    root: Path,
    *,
    registry: TenantRegistry | None = None,
    store: StatementStore | None = None,
    documents: DocumentStore | None = None,
    max_body_bytes: int = 10 * 1024 * 1024,
    max_limit: int = 500,
    default_version: XapiVersion = "1.0.3",
) -> FastAPI:
    """The LRS over `root`: `root/tenants.sqlite` (credentials) and `root/statements/`.

    `registry` and `store` default to the embedded SQLite implementations; pass others to
    test or to deploy on another backend. Statement queries return at most `max_limit`
    statements per page; bodies over `max_body_bytes` are refused with 413. Requests choose
    xAPI 1.0.3 or 2.0.0 by their version header; `default_version` is the one declared in the
    answers to requests without one (/about, and the 400 refusing the others).
    """
    root = Path(root)
    registry = registry or TenantRegistry(root)
    store = store or SQLiteStatementStore(root / "statements", max_limit=max_limit)
    documents = documents or SQLiteDocumentStore(root / "statements")
    authenticator = Authenticator(registry)
    app = FastAPI(title="vigie LRS", version=", ".join(SUPPORTED), openapi_url=None,
                  docs_url=None)
    app.state.store = store
    app.state.registry = registry
    app.state.documents = documents
    app.state.authenticator = authenticator

    @app.exception_handler(LrsError)
    async def _lrs_error(request: Request, exc: LrsError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        """A client that hung up before sending its whole body: nothing was stored and nobody
        reads the answer; an ordinary 400, not an application error with a traceback."""
        return _error(400, "the client closed the connection before the end of its request")

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        return _error(401, str(exc), {"WWW-Authenticate": exc.challenge})

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """Routing errors in the LRS's error format, not FastAPI's `{"detail": …}`."""
        path = request.url.path
        if exc.status_code == 404:
            message = f"{path}: no such resource in this LRS"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} {path}: method not allowed" + (
                f" (allowed: {allowed})" if allowed else ""
            )
        else:
            message = str(exc.detail)
        return _error(exc.status_code, message, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _error(400, f"{where or 'request'}: {first.get('msg')}")

    async def credential_of(request: Request, *scopes: str) -> Credential:
        header = request.headers.get("authorization")
        credential = authenticator.recent(header)
        if credential is None:
            credential = await run_in_threadpool(authenticator.authenticate, header)
        if not credential.allows(*scopes):
            raise Forbidden(
                f"this credential lacks the scope {' or '.join(scopes)} "
                f"(it has {', '.join(credential.scopes)})"
            )
        return credential

    async def statements_from(request: Request, credential: Credential) -> tuple[
        list[dict[str, Any]], bool, dict[str, bytes]
    ]:
        """The validated statements of a PUT/POST, whether they came as an array, and the
        attachment data sent with them (sha2 → content; empty for application/json).

        Validated, and completed (`version` when absent, UTC timestamps), under the rules of
        the request's version (`versions.Rules`)."""
        version = request_version(request.scope)
        content_type = request.headers.get("content-type", "application/json")
        lowered = content_type.lower()
        if "method" in request.query_params or lowered.startswith(
            "application/x-www-form-urlencoded"
        ):
            raise BadRequest("the alternate request syntax (method=…) is not supported yet")
        multipart = media_type(lowered) == "multipart/mixed"
        if not multipart and not lowered.startswith("application/json"):
            raise BadRequest(
                f"Content-Type: must be application/json or multipart/mixed, not {lowered!r}"
            )
        body = await _read_body(request, max_body_bytes)
        parts: list[Part] = []
        if multipart:
            body, parts = parse_multipart(content_type, body)
        statements, is_array = parse_statement_body(body, version)
        if multipart:
            data = match_parts(statements, is_array, parts)
        else:
            data = {}
            for where, attachment in declared_attachments(statements, is_array):
                if "fileUrl" not in attachment:
                    raise BadRequest(
                        f"{where}.fileUrl: required in an application/json request; send the "
                        "attachment data as a part of a multipart/mixed request instead"
                    )
        if data and not isinstance(store, AttachmentStore):
            raise BadRequest("this LRS's statement store does not keep attachment data")
        check_signatures(statements, is_array, data, version)
        rules = RULES[version]
        if rules.utc_timestamps:
            statements = [with_utc_timestamps(statement) for statement in statements]
        for statement in statements:
            statement["authority"] = credential.authority
            statement.setdefault("version", rules.statement_version)
        return statements, is_array, data

    async def insert(
        statements: list[dict[str, Any]], data: dict[str, bytes], tenant: str
    ) -> list[str]:
        """Stores the statements: prepared here, committed by the tenant's writer thread
        with those of concurrent requests (`group_commit`); the ids once durable."""
        return await asyncio.wrap_future(store.submit(statements, data, tenant=tenant))

    @app.get("/xAPI/about")
    async def about() -> Response:
        return _json({"version": list(SUPPORTED)})

    @app.put("/xAPI/statements")
    async def put_statement(request: Request) -> Response:
        credential = await credential_of(request, "statements/write")
        params = dict(request.query_params)
        if "statementId" not in params:
            raise BadRequest("statementId: required to PUT a statement (or POST it instead)")
        statement_id = _check(_UUID, "statementId", params["statementId"]).lower()
        statements, is_array, data = await statements_from(request, credential)
        if is_array:
            raise BadRequest("PUT takes one statement; POST an array instead")
        statement = statements[0]
        if "id" in statement and statement["id"].lower() != statement_id:
            raise BadRequest(f"id: {statement['id']} differs from statementId {statement_id}")
        statement["id"] = statement_id
        await insert(statements, data, credential.tenant)
        return Response(status_code=204)

    @app.post("/xAPI/statements")
    async def post_statements(request: Request) -> Response:
        credential = await credential_of(request, "statements/write")
        statements, _, data = await statements_from(request, credential)
        ids = await insert(statements, data, credential.tenant)
        return _json(ids)

    @app.api_route("/xAPI/statements", methods=["GET", "HEAD"])
    async def get_statements(request: Request) -> Response:
        credential = await credential_of(
            request, "statements/read", "statements/read/mine", "all/read"
        )
        mine = (
            None if credential.allows("statements/read", "all/read")
            else agent_key(credential.authority)
        )
        params = dict(request.query_params)
        with_attachments = _boolean("attachments", params.get("attachments"))
        if "statementId" in params or "voidedStatementId" in params:
            languages = _languages(request.headers.get("accept-language"))
            content, headers = await single(params, credential, mine, languages)
            returned = [content]
        else:
            content, headers = await many(request, params, credential, mine)
            returned = content["statements"]
        if not with_attachments:
            if request.method == "HEAD":
                return Response(status_code=200, headers=headers, media_type="application/json")
            return _json(content, headers=headers)
        # Communication 2.1.3: with attachments=true, always the multipart response format
        hashes = attachment_hashes(returned)
        data: dict[str, bytes] = {}
        if hashes and isinstance(store, AttachmentStore):
            data = await run_in_threadpool(
                lambda: store.attachment_data(hashes, tenant=credential.tenant)
            )
        document = json_text(content)
        body, media = multipart_response(document, returned, data)
        if request.method == "HEAD":
            return Response(status_code=200, headers={**headers, "Content-Type": media})
        return Response(body, 200, {**headers, "Content-Type": media})

    async def single(
        params: dict[str, str], credential: Credential, mine: str | None,
        languages: tuple[str, ...],
    ) -> tuple[dict[str, Any], dict[str, str]]:
        if "statementId" in params and "voidedStatementId" in params:
            raise BadRequest("statementId and voidedStatementId cannot be used together")
        extra = sorted(set(params) - _SINGLE_PARAMS)
        if extra:
            raise BadRequest(f"{extra[0]}: not allowed with statementId or voidedStatementId")
        voided = "voidedStatementId" in params
        name = "voidedStatementId" if voided else "statementId"
        wanted = _check(_UUID, name, params[name])
        fmt = params.get("format", "exact")
        if fmt not in ("ids", "exact", "canonical"):
            raise BadRequest(f"format: must be ids, exact or canonical, not {fmt!r}")
        through, statement = await run_in_threadpool(lambda: (
            store.consistent_through(tenant=credential.tenant),  # first: see `many`
            store.get(wanted, tenant=credential.tenant, voided=voided),
        ))
        if mine is not None and agent_key(statement.get("authority", {})) != mine:
            raise Forbidden("this credential may only read the statements it wrote")
        stored = datetime.fromisoformat(statement["stored"])
        headers = {"X-Experience-API-Consistent-Through": through,
                   "Last-Modified": format_datetime(stored, usegmt=True)}
        if fmt == "ids":
            statement = ids_format(statement)
        elif fmt == "canonical":
            statement = canonical_format(statement, languages)
        return statement, headers

    async def many(
        request: Request, params: dict[str, str], credential: Credential, mine: str | None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """A page of statements and its headers. The consistency time is read before a new
        query takes its bound (then every statement stored by that time is within it), or at
        a continuation's bound (`statement_query.consistency_sql`)."""
        if "more" in params:
            if len(params) > 1:
                raise BadRequest("more: use the more link as given, without other parameters")
            query = _continuation(params["more"])
        else:
            query = _parse_query(params, _languages(request.headers.get("accept-language")))
        query = replace(query, authority=mine)
        through, (statements, token) = await run_in_threadpool(lambda: (
            store.consistent_through(tenant=credential.tenant, bound=query.bound),
            store.query(query, tenant=credential.tenant),
        ))
        base = request.scope.get("root_path", "")
        more = f"{base}/xAPI/statements?more={token}" if token else ""
        return ({"statements": statements, "more": more},
                {"X-Experience-API-Consistent-Through": through})

    async def read_body(request: Request) -> bytes:
        return await _read_body(request, max_body_bytes)

    app.include_router(
        document_router(
            credential_of=credential_of, read_body=read_body, documents=documents,
            statements=store,
        )
    )
    app.add_middleware(_XapiVersion, default=default_version)
    # Outermost: a form request of the alternate syntax becomes the request it stands for.
    app.add_middleware(
        AlternateRequestSyntax, max_body_bytes=max_body_bytes, default=default_version
    )
    return app
