"""Who is asking: the signed-in viewer for pages and actions, the CSRF check for forms.

Pages redirect a stranger to the sign-in page (LoginRequired); the live stream answers 401 instead, because a
redirect to an HTML page would only make EventSource retry forever.
"""

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from control_plane.web.config import WebConfig
from control_plane.web.cookies import SessionCookies, Viewer, WebSession


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRejected(Exception):
    """A POST without the form token of the browser's session: a forged cross-site request, or a stale page."""


def cookies(request: Request) -> SessionCookies:
    jar: SessionCookies = request.app.state.cookies
    return jar


def config(request: Request) -> WebConfig:
    cfg: WebConfig = request.app.state.config
    return cfg


Cookies = Annotated[SessionCookies, Depends(cookies)]
Config = Annotated[WebConfig, Depends(config)]


def browser_session(request: Request, jar: Cookies) -> WebSession | None:
    return jar.read(request)


Browser = Annotated[WebSession | None, Depends(browser_session)]


@dataclass(frozen=True)
class Caller:
    """A signed-in person and their browser session's form token."""

    viewer: Viewer
    csrf: str


def signed_in(request: Request, session: Browser) -> Caller:
    if session is None or session.viewer is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/sessions")
    return Caller(session.viewer, session.csrf)


async def signed_in_with_csrf(request: Request, session: Browser) -> Caller:
    caller = signed_in(request, session)
    await check_csrf(request, caller.csrf)
    return caller


async def check_csrf(request: Request, expected: str) -> None:
    sent = (await request.form()).get("csrf")
    if not isinstance(sent, str) or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected()


def signed_in_for_stream(session: Browser) -> Viewer:
    if session is None or session.viewer is None:
        raise HTTPException(401, "sign in first")
    return session.viewer


Member = Annotated[Caller, Depends(signed_in)]
"""A signed-in person looking at a page."""
Actor = Annotated[Caller, Depends(signed_in_with_csrf)]
"""A signed-in person submitting one of our forms."""
StreamViewer = Annotated[Viewer, Depends(signed_in_for_stream)]


def safe_next(path: str | None) -> str:
    """Only our own paths: `next=https://evil.example` or `//evil.example` must not become an open redirect."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/sessions"
    return path
