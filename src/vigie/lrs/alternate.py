"""The xAPI 1.0.3 alternate request syntax (Communication 1.3), as a rewrite before routing.

Some clients (browsers sending cross-origin requests without pre-flight) cannot set headers or
use PUT: they POST `?method=PUT` with a form whose fields carry the headers, the resource's
parameters and the body (`content`). This layer turns such a request back into the request it
stands for, so every resource handles one syntax only.

xAPI 2.0.0 has no alternate syntax: a request declaring 2.0.x, in its header or in its form,
that uses it is refused with 400 (what the ADL 2.0 suite checks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.responses import JSONResponse

from vigie.lrs.versions import RULES, XapiVersion, negotiate

__all__ = ["AlternateRequestSyntax"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Form fields that stand for request headers (Communication 1.3).
HEADER_FIELDS = frozenset({
    "authorization", "x-experience-api-version", "content-type", "content-length",
    "if-match", "if-none-match",
})
_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})


def _error(message: str, version: XapiVersion, status: int = 400) -> JSONResponse:
    """The LRS's error body (`{"error": true, "status": …, "message": …}`)."""
    return JSONResponse({"error": True, "status": status, "message": message},
                        status_code=status, headers={"X-Experience-API-Version": version})


def _removed(version: XapiVersion) -> JSONResponse:
    return _error(f"method: xAPI {version} has no alternate request syntax; send the request "
                  "itself (its method, headers and query string)", version)


class AlternateRequestSyntax:
    """ASGI layer rewriting `POST …?method=X` form requests under `/xAPI/`."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int = 10 * 1024 * 1024,
        default: XapiVersion = "1.0.3",
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        names = [name for name, _ in query]
        if (scope["type"] != "http" or not str(scope["path"]).startswith("/xAPI/")
                or "method" not in names):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"x-experience-api-version")
        version = negotiate(None if declared is None else declared.decode("latin-1"))
        answered = version or self.default
        if version is not None and not RULES[version].alternate_syntax:
            await _removed(version)(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _error("method: the alternate request syntax is a POST request",
                         answered)(scope, receive, send)
            return
        extra = sorted(set(names) - {"method"})
        if extra:
            await _error(f"{extra[0]}: with the alternate request syntax, parameters go in "
                         "the form body; the query string holds only method",
                         answered)(scope, receive, send)
            return
        method = dict(query)["method"].upper()
        if method not in _METHODS:
            await _error(f"method: {method!r} is not an HTTP method of xAPI",
                         answered)(scope, receive, send)
            return
        body = b""
        while True:
            chunk = await receive()
            body += chunk.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _error("the request body is too large", answered, 413)(
                    scope, receive, send)
                return
            if not chunk.get("more_body"):
                break
        type_header = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        if not type_header.lower().startswith("application/x-www-form-urlencoded"):
            await _error("Content-Type: the alternate request syntax sends "
                         "application/x-www-form-urlencoded", answered)(scope, receive, send)
            return
        form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        content = b""
        headers: dict[bytes, bytes] = {
            name: value for name, value in scope["headers"]
            if name not in (b"content-type", b"content-length")
        }
        params: list[tuple[str, str]] = []
        for name, value in form:
            lowered = name.lower()
            if lowered == "content":
                content = value.encode("utf-8")
            elif lowered in HEADER_FIELDS:
                headers[lowered.encode("latin-1")] = value.encode("utf-8")
            else:
                params.append((name, value))
        version = negotiate(headers.get(b"x-experience-api-version", b"").decode("latin-1"))
        if version is not None and not RULES[version].alternate_syntax:
            await _removed(version)(scope, receive, send)
            return
        headers[b"content-length"] = str(len(content)).encode()
        if content and b"content-type" not in headers:
            headers[b"content-type"] = b"application/json"
        rewritten = {**scope, "method": method, "query_string": urlencode(params).encode(),
                     "headers": list(headers.items())}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}

        await self.app(rewritten, replay, send)
