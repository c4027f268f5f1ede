"""The web UI as an ASGI app of its own, mounted at / beside the JSON API: its own error pages (HTML, where
the API answers JSON), its own auth (a cookie, where the API takes a bearer token), the same store."""

import logging
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from control_plane.auth_failures import AuthFailures
from control_plane.config import Settings
from control_plane.errors import BadRequest, Conflict, NotFound
from control_plane.git import GitCredentials
from control_plane.store import SessionStore
from control_plane.web import (
    routes_artifacts,
    routes_auth,
    routes_automations,
    routes_fleet,
    routes_live,
    routes_sessions,
)
from control_plane.web.auth import Caller, CsrfRejected, LoginRequired, cookies
from control_plane.web.config import WebConfig
from control_plane.web.cookies import SessionCookies
from control_plane.web.live import LiveHub
from control_plane.web.pages import page, summary_json
from control_plane.web.templating import Renderer
from harness.errors import NightshiftError

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_web_app(
    store: SessionStore, config: WebConfig, settings: Settings, *, credentials: GitCredentials | None = None
) -> FastAPI:
    """`credentials` let the new-session form reach private repositories, as the API's create does."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, max_body_size=config.max_prompt_bytes + 64_000)
    renderer = Renderer()
    app.state.store, app.state.config, app.state.settings, app.state.renderer = store, config, settings, renderer
    app.state.credentials = credentials
    app.state.cookies = SessionCookies(
        config.signing_key(), max_age_s=config.session_max_age_s, secure=config.secure_cookies
    )
    app.state.auth_failures = AuthFailures(
        store.redis, limit=config.auth_failure_limit, window_s=config.auth_failure_window_s
    )
    app.state.hub = LiveHub(store, renderer.event, summary_json, block_ms=config.stream_block_ms)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(NightshiftError, _error_page)
    app.add_exception_handler(RequestValidationError, _invalid_form)
    app.add_exception_handler(HTTPException, _http_error)  # Starlette's: also an unknown path, not only ours
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (routes_auth, routes_sessions, routes_live, routes_artifacts, routes_fleet, routes_automations):
        app.include_router(module.router)
    app.add_middleware(_SecurityHeaders)
    return app


def mount_web(api: FastAPI, web: FastAPI) -> None:
    """The web UI takes every path the API does not: mount it last."""
    api.mount("/", web)


class _SecurityHeaders:
    """No inline script or style may run (CSP), no framing, and pages holding a form token are not cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


def _caller_or_none(request: Request) -> Caller | None:
    session = cookies(request).read(request)
    return None if session is None or session.viewer is None else Caller(session.viewer, session.csrf)


def _error(request: Request, status: int, title: str, detail: str) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"detail": detail}, status_code=status)  # the session page's script posted
    return page(request, "error.html", _caller_or_none(request), status_code=status, title=title, detail=detail)


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    detail = "This form was not sent from a page of this site (or the page is old). Go back, reload it, try again."
    return _error(request, 403, "Form expired", detail)


async def _error_page(request: Request, exc: Exception) -> Response:
    for kind, code, title in (
        (NotFound, 404, "Not found"),
        (Conflict, 409, "Conflict"),
        (BadRequest, 400, "Cannot do that"),
    ):
        if isinstance(exc, kind):
            return _error(request, code, title, str(exc))
    log.error("error on %s", request.url.path, exc_info=exc)
    return _error(request, 500, "Something went wrong", "The server logged the details.")


async def _invalid_form(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
    return _error(request, 400, "Cannot do that", detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(request, exc.status_code, "Error", str(exc.detail))
