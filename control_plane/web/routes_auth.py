"""Signing in and out: the API token form (the embedded default) or GitHub OAuth (when configured)."""

import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from control_plane.auth_failures import AuthFailures, client_of
from control_plane.web.auth import Actor, Browser, Config, Cookies, CsrfRejected, check_csrf, config, safe_next
from control_plane.web.cookies import SessionCookies, Viewer, WebSession
from control_plane.web.oauth import OAuthError, authorize_url, sign_in
from control_plane.web.pages import page

router = APIRouter()
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,59}")


def _login_page(
    request: Request, session: WebSession, jar: SessionCookies, *, error: str = "", status: int = 200
) -> Response:
    github = config(request).github is not None
    response = page(request, "login.html", None, status_code=status, form_csrf=session.csrf, error=error, github=github)
    jar.write(response, session)
    return response


def _signed_in(jar: SessionCookies, viewer: Viewer, next_path: str) -> Response:
    """A fresh session (new form token) on every sign-in, so a token seen before signing in is worth nothing."""
    response = RedirectResponse(next_path, status_code=303)
    jar.write(response, jar.new(viewer=viewer))
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, jar: Cookies, session: Browser, next: str | None = None) -> Response:
    if session is not None and session.viewer is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    fresh = (session or jar.new()).model_copy(update={"next_path": safe_next(next)})
    return _login_page(request, fresh, jar)


@router.post("/login")
async def login_with_token(
    request: Request,
    jar: Cookies,
    session: Browser,
    cfg: Config,
    token: Annotated[str, Form()],
    name: Annotated[str, Form()],
) -> Response:
    if cfg.github is not None:
        raise HTTPException(404, "sign-in with the API token is off: this install signs in with GitHub")
    if session is None:
        return _login_page(request, jar.new(), jar, error="Your sign-in form had expired; try again.", status=400)
    await check_csrf(request, session.csrf)
    failures: AuthFailures = request.app.state.auth_failures
    client = client_of(request)
    if (wait_s := await failures.retry_after(client)) is not None:
        error = f"Too many failed sign-ins from your address: try again in {wait_s} s."
        response = _login_page(request, session, jar, error=error, status=429)
        response.headers["Retry-After"] = str(wait_s)
        return response
    if not secrets.compare_digest(token.encode(), cfg.api_token.get_secret_value().encode()):
        await failures.failed(client, "web sign-in")
        return _login_page(request, session, jar, error="That is not this server's API token.", status=401)
    if not NAME.fullmatch(name):
        error = "Your name: letters, digits and . _ @ - only, up to 60 characters."
        return _login_page(request, session, jar, error=error, status=400)
    return _signed_in(jar, Viewer(login=name, name=name, via="token"), session.next_path)


@router.post("/logout")
async def logout(caller: Actor, jar: Cookies) -> Response:
    response = RedirectResponse("/login", status_code=303)
    jar.clear(response)
    return response


@router.get("/login/github")
async def github_start(jar: Cookies, session: Browser, cfg: Config) -> Response:
    if cfg.github is None:
        raise HTTPException(404, "GitHub sign-in is not configured")
    state = secrets.token_urlsafe(24)
    current = session or jar.new()
    response = RedirectResponse(authorize_url(cfg.github, redirect_uri=_callback(cfg.public_url), state=state), 303)
    jar.write(response, current.model_copy(update={"oauth_state": state}))
    return response


@router.get("/login/github/callback")
async def github_callback(
    request: Request,
    jar: Cookies,
    session: Browser,
    cfg: Config,
    code: Annotated[str, Query(max_length=200)],
    state: Annotated[str, Query(max_length=200)],
) -> Response:
    if cfg.github is None:
        raise HTTPException(404, "GitHub sign-in is not configured")
    expected = session.oauth_state if session is not None else None
    if expected is None or not secrets.compare_digest(state.encode(), expected.encode()):
        raise CsrfRejected()  # not the sign-in this browser started
    assert session is not None
    current = session.model_copy(update={"oauth_state": None})
    try:
        user = await sign_in(cfg.github, code=code, redirect_uri=_callback(cfg.public_url))
    except OAuthError as e:
        return _login_page(request, current, jar, error=str(e), status=403)
    return _signed_in(jar, Viewer(login=user.login, name=user.name or user.login, via="github"), current.next_path)


def _callback(public_url: str) -> str:
    return f"{public_url.rstrip('/')}/login/github/callback"
