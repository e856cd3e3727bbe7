"""`vigie serve`: the dashboards and the JSON API of published indicators.

Why server-rendered pages with client-side charts: the page (filters, panels, links) works and
is shareable as a URL without JavaScript frameworks; each chart fetches the same JSON API that
other tools use, so there is one path from the lake to any screen, through
`publish_selection`'s small-cell suppression. Plotly is served from the installed package:
the server may be offline and no third party learns who reads which dashboard.

Every route but `/__heartbeat__` and the login form needs an authenticated user (see
`vigie.web.auth`, roles from `vigie.web.roles`); dashboards and indicators are filtered by role
(see `vigie.web.dashboards`). A manager restricted to structures gets every number computed on
those structures' rows only (`vigie.web.scope`), and a structure filter outside them is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from swagger_ui_bundle import swagger_ui_path

from vigie.config import Config
from vigie.errors import VigieError
from vigie.indicators.catalogue import Indicator, IndicatorError, load_catalogue
from vigie.indicators.export import to_csv
from vigie.indicators.filters import Filters
from vigie.privacy.pseudonym import load_secret
from vigie.web.accounts import AccountStore
from vigie.web.auth import (
    COOKIE,
    Authenticator,
    DirectoryUnavailable,
    Forbidden,
    NotAuthenticated,
    User,
)
from vigie.web.dashboards import (
    Dashboard,
    Panel,
    Role,
    allowed,
    fixed_filters,
    indicators_for,
    load_dashboards,
)
from vigie.web.data import LakeReader, describe, payload
from vigie.web.i18n import LANGS, Lang, lang_of, text, value_label
from vigie.web.options import LakeMenus
from vigie.web.params import PERIODS, TEXT_FILTERS, FilterError, Selection, parse_selection
from vigie.web.roles import group_roles

__all__ = ["create_app"]

_HERE = resources.files("vigie.web")


def current_user(request: Request) -> User:
    """The authenticated user (a FastAPI dependency; the app holds its `Authenticator`)."""
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.user(request)


# Module-level aliases: with postponed annotations FastAPI resolves them in module globals.
CurrentUser = Annotated[User, Depends(current_user)]
TextQuery = Annotated[str | None, Query(description="exact value; absent: no filter")]


class _NotFound(Exception):
    """No such indicator (404)."""


def _plotly_js() -> Path:
    """`plotly.min.js` of the installed plotly package (no CDN: the server may be offline)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():  # pragma: no cover - a broken plotly installation
        raise VigieError(f"plotly.min.js not found at {path}: reinstall plotly")
    return path


def _server_key(config: Config) -> bytes:
    """Session key: derived from the pseudonymisation secret, else random for this process."""
    file = config.path(config.vigie.secret_file) if config.vigie.secret_file else None
    try:
        secret = load_secret(file=file, env=config.vigie.secret_env, lake=config.lake_path)
    except VigieError:
        return secrets.token_bytes(32)
    return hashlib.sha256(b"vigie-web\0" + secret).digest()


def _safe_next(target: str | None) -> str:
    """Only local paths after login (no open redirect to another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _filter_query(filters: dict[str, Any], lang: Lang) -> str:
    from urllib.parse import urlencode

    items = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in filters.items()
             if v is not None}
    if "start" in items or "end" in items:
        items["period"] = "custom"
    else:
        items["period"] = "all"
    items["lang"] = lang
    return urlencode(items)


#: The files of Swagger UI (package `swagger-ui-bundle`) that `/docs` loads, and their types.
_SWAGGER_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
                   "favicon-32x32.png": "image/png"}


def _panel_spec(panel: Panel, dashboard: Dashboard, indicator: Indicator,
                selection: Selection, lang: Lang, sign_on: Sequence[str]) -> dict[str, Any]:
    """Everything the browser needs to draw one panel, URLs included (`sign_on`: the
    single sign-on sources)."""
    meta = indicator.meta
    fixed_values = fixed_filters(dashboard, panel, sign_on)
    fixed = fixed_values.get("service")
    filters = selection.filters(fixed=fixed_values, keep=meta.filters)
    query = _filter_query(filters.model_dump(), lang)
    chosen = set(selection.values) | ({"period"} if selection.period != "all" else set())
    ignored = sorted(f for f in chosen if f not in meta.filters)
    dims = [d for d in meta.dimensions if not (d == "service" and fixed)]
    chart = panel.chart or meta.chart
    x = panel.x or (dims[0] if dims else meta.dimensions[0])
    return {
        **describe(indicator, lang),
        "title": getattr(panel.title, lang) if panel.title else getattr(meta.title, lang),
        "chart": chart,
        "measure": panel.measure or meta.measures[0].column,
        "x": x,
        "color": panel.color,
        "service": fixed,
        "api": f"/api/indicators/{indicator.id}?{query}",
        "csv": f"/api/indicators/{indicator.id}.csv?{query}",
        "ignored": [text(f, lang) if f in (*TEXT_FILTERS, "period") else f
                    for f in ignored],
    }


def create_app(
    config: Config,
    *,
    accounts: Path | None = None,
    trusted_proxies: Sequence[str] = (),
    remote_user_header: str | None = None,
    dashboards: Path | None = None,
    proxy_default_role: Role | None = None,
    today: Callable[[], date] | None = None,
) -> FastAPI:
    """The web application over `config`'s lake and indicator catalogue.

    Args:
        accounts: the local accounts file (JSON or TOML; see `vigie.web.accounts`).
        trusted_proxies: addresses or CIDR blocks whose `remote_user_header` is believed, besides
            `[web] trusted_proxies`.
        remote_user_header: the proxy's user header; None: `[web] remote_user_header`.
        dashboards: a dashboards file replacing the shipped one.
        proxy_default_role: role of proxy-authenticated users without an account or group
            role; None: `[web] proxy_default_role` (when that is unset too, they are refused).
        today: the current local day (tests); default: today in the configured time zone.
    """
    catalogue = load_catalogue([config.path(f) for f in config.indicators.folders])
    boards = load_dashboards(catalogue, dashboards)
    k = config.indicators.k
    lake = config.lake_path
    zone = ZoneInfo(config.vigie.timezone)
    clock = today or (lambda: datetime.now(zone).date())
    store = AccountStore(accounts)
    from vigie.web.sessions import SessionSigner

    signer = SessionSigner(_server_key(config))
    web = config.web
    authenticator = Authenticator(store, signer,
                                  trusted_proxies=[*web.trusted_proxies, *trusted_proxies],
                                  header=remote_user_header or web.remote_user_header,
                                  proxy_default_role=proxy_default_role or web.proxy_default_role,
                                  groups=group_roles(config))
    menus = LakeMenus(lake)
    sign_on = config.sign_on_sources()
    reader = LakeReader(lake)
    templates = Jinja2Templates(directory=str(_HERE.joinpath("templates")))
    templates.env.globals["t"] = text
    templates.env.globals["value_label"] = value_label
    templates.env.globals["app_css"] = _HERE.joinpath("templates", "app.css").read_text("utf-8")
    plotly_js = _plotly_js()

    app = FastAPI(
        title="vigie", version="0.1",
        description="Published (small-cell suppressed) indicators of vigie's lake.",
        docs_url=None, redoc_url=None, openapi_url=None,
    )

    app.state.authenticator = authenticator

    def _wants_json(request: Request) -> bool:
        return request.url.path.startswith(("/api/", "/openapi")) or (
            "text/html" not in request.headers.get("accept", ""))

    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import urlencode

        query = urlencode({"next": target, "lang": request.query_params.get("lang", "fr")})
        return RedirectResponse(f"/login?{query}", status_code=303)

    @app.exception_handler(DirectoryUnavailable)
    async def _unavailable(request: Request, exc: DirectoryUnavailable) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=503)
        return PlainTextResponse(str(exc), status_code=503)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=403)
        lang = lang_of(request.query_params.get("lang"))
        return templates.TemplateResponse(request, "forbidden.html", {
            "lang": lang, "message": str(exc), "user": None, "nav": []}, status_code=403)

    # -- without authentication ----------------------------------------------------------

    @app.get("/__heartbeat__", include_in_schema=False)
    def heartbeat() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/", lang: str = "fr",
                   error: bool = False) -> Response:
        language = lang_of(lang)
        return templates.TemplateResponse(request, "login.html", {
            "lang": language, "next": _safe_next(next), "error": error, "user": None,
            "nav": []}, status_code=401 if error else 200)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request, user: Annotated[str, Form()],
                    password: Annotated[str, Form()], next: Annotated[str, Form()] = "/",
                    lang: Annotated[str, Form()] = "fr") -> Response:
        account = await run_in_threadpool(store.check, user.strip(), password)
        if account is None:
            from urllib.parse import urlencode

            query = urlencode({"next": _safe_next(next), "lang": lang_of(lang), "error": 1})
            return RedirectResponse(f"/login?{query}", status_code=303)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(COOKIE, signer.issue(account.user, account.password),
                            max_age=signer.max_age, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- what a user may see ---------------------------------------------------------------

    def _readable(user: User) -> set[str]:
        return indicators_for(user.role, boards, catalogue,
                              restricted=user.structures is not None)

    def _panels(user: User, board: Dashboard) -> list[Panel]:
        """The panels of `board` the user may read (none: the dashboard is not theirs, or it
        shows single sign-on sources and the installation reads none)."""
        if not allowed(user.role, board.role) or (board.sign_on and not sign_on):
            return []
        readable = _readable(user)
        return [p for p in board.panels if p.indicator in readable]

    def _scope(user: User, selection: Selection) -> frozenset[str] | None:
        """The structures a restricted manager's numbers come from (with sub-structures);
        a structure filter outside them is refused rather than silently emptied."""
        if user.structures is None:
            return None
        scope = menus.get().below(user.structures)
        chosen = selection.values.get("structure")
        if chosen is not None and chosen not in scope:
            raise Forbidden(f"the structure {chosen!r} is outside the structures of "
                            f"{user.name} ({', '.join(sorted(user.structures))})")
        return scope

    # -- pages ---------------------------------------------------------------------------

    def _nav(user: User, lang: Lang) -> list[dict[str, str]]:
        return [{"id": d.id, "title": getattr(d.title, lang)} for d in boards.values()
                if _panels(user, d)]

    @app.get("/", include_in_schema=False)
    def home(user: CurrentUser, lang: str = "fr") -> Response:
        suffix = "?lang=en" if lang == "en" else ""
        first = next(iter(_nav(user, lang_of(lang))), {"id": next(iter(boards))})
        return RedirectResponse(f"/dashboards/{first['id']}{suffix}", status_code=303)

    @app.get("/dashboards/{dashboard_id}", include_in_schema=False,
             response_class=HTMLResponse)
    def dashboard_page(request: Request, dashboard_id: str, user: CurrentUser) -> Response:
        lang = lang_of(request.query_params.get("lang"))
        board = boards.get(dashboard_id)
        if board is None:
            return PlainTextResponse(f"no dashboard {dashboard_id!r}", status_code=404)
        if board.sign_on and not sign_on:
            return PlainTextResponse(
                f"the dashboard {dashboard_id!r} shows the sources read in a single sign-on's "
                "format (CAS, Shibboleth IdP) and the configuration has none", status_code=404)
        visible = _panels(user, board)
        if not visible:
            raise Forbidden(f"the dashboard {dashboard_id!r} is for the {board.role} role"
                            + ("" if user.structures is None else
                               ", without a panel restricted to structures"))
        try:
            selection = parse_selection(request.query_params, clock())
        except FilterError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        scope = _scope(user, selection)
        facts = menus.get()
        panels = [_panel_spec(p, board, catalogue[p.indicator], selection, lang, sign_on)
                  for p in visible]
        switch = "fr" if lang == "en" else "en"
        return templates.TemplateResponse(request, "dashboard.html", {
            "lang": lang, "user": user, "nav": _nav(user, lang), "board": board,
            "title": getattr(board.title, lang), "selection": selection,
            "periods": PERIODS, "options": facts.menus(scope, lang), "panels": panels, "k": k,
            "text_filters": TEXT_FILTERS, "sign_on": sign_on,
            "scope": None if user.structures is None else
            [facts.structure_label(c) for c in sorted(user.structures)],
            "switch_url": f"/dashboards/{board.id}?{selection.query(lang=switch)}",
            "switch_label": text("switch", lang),
        })

    # -- API -----------------------------------------------------------------------------

    def _indicator(indicator_id: str, user: User) -> Indicator:
        indicator = catalogue.get(indicator_id)
        if indicator is None:
            raise _NotFound(f"no indicator {indicator_id!r}")
        if indicator_id not in _readable(user):
            raise Forbidden(f"the indicator {indicator_id!r} is not available to the "
                            f"{user.role} role" + ("" if user.structures is None else
                                                   " restricted to structures"))
        return indicator

    @app.exception_handler(_NotFound)
    async def _not_found(request: Request, exc: _NotFound) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.get("/api/indicators", tags=["indicators"],
             summary="The indicators this user may read")
    def api_list(user: CurrentUser, lang: str = "fr") -> list[dict[str, Any]]:
        language = lang_of(lang)
        return [describe(catalogue[i], language) for i in sorted(_readable(user))]

    def _result(indicator_id: str, user: User, request: Request
                ) -> tuple[Indicator, Filters, frozenset[str] | None, pa.Table]:
        indicator = _indicator(indicator_id, user)
        selection = parse_selection(request.query_params, clock(), default="all")
        scope = _scope(user, selection)
        filters = selection.filters()
        return indicator, filters, scope, reader.published(indicator, filters, k,
                                                           structures=scope)

    @app.get("/api/indicators/{indicator_id}.csv", tags=["indicators"],
             summary="One indicator's published rows as CSV",
             response_class=PlainTextResponse)
    def api_csv(indicator_id: str, request: Request, user: CurrentUser,
                period: TextQuery = None, start: TextQuery = None, end: TextQuery = None,
                service: TextQuery = None, population: TextQuery = None,
                structure: TextQuery = None, etape: TextQuery = None, zone: TextQuery = None,
                device: TextQuery = None, source: TextQuery = None) -> Response:
        try:
            indicator, _, _, table = _result(indicator_id, user, request)
        except (FilterError, IndicatorError) as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        name = f"vigie-{indicator.id}-{clock().isoformat()}.csv"
        return Response(to_csv(table, k), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/indicators/{indicator_id}", tags=["indicators"],
             summary="One indicator's published rows (small cells suppressed)")
    def api_indicator(indicator_id: str, request: Request, user: CurrentUser,
                      period: Annotated[str | None, Query(
                          description="week, month, year (academic, from 1 September), all, "
                                      "custom (with start/end); default all")] = None,
                      start: Annotated[str | None, Query(description="first day, YYYY-MM-DD"
                                                         )] = None,
                      end: Annotated[str | None, Query(description="last day, YYYY-MM-DD"
                                                       )] = None,
                      service: TextQuery = None, population: TextQuery = None,
                      structure: TextQuery = None, etape: TextQuery = None,
                      zone: TextQuery = None, device: TextQuery = None,
                      source: Annotated[str | None, Query(
                          description="one source, or several separated by commas")] = None,
                      lang: Annotated[str, Query(description="fr or en")] = "fr",
                      ) -> Response:
        try:
            indicator, filters, scope, table = _result(indicator_id, user, request)
        except (FilterError, IndicatorError) as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return JSONResponse(payload(table, indicator, filters, k, lang_of(lang),
                                    structures=scope))

    # -- static files and API documentation ----------------------------------------------

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly(user: CurrentUser) -> Response:
        return FileResponse(plotly_js, media_type="text/javascript",
                            headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/static/app.js", include_in_schema=False)
    def app_js(user: CurrentUser) -> Response:
        body = _HERE.joinpath("static", "app.js").read_text("utf-8")
        return Response(body, media_type="text/javascript",
                        headers={"Cache-Control": "private, no-cache"})

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: CurrentUser) -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False)
    def docs(user: CurrentUser) -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="vigie API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png")

    @app.get("/static/swagger/{name}", include_in_schema=False)
    def swagger_asset(name: str, user: CurrentUser) -> Response:
        if name not in _SWAGGER_ASSETS:
            return PlainTextResponse(f"no file {name!r}", status_code=404)
        return FileResponse(Path(swagger_ui_path) / name, media_type=_SWAGGER_ASSETS[name],
                            headers={"Cache-Control": "private, max-age=86400"})

    app.state.langs = LANGS
    return app
