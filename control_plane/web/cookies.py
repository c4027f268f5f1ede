"""The browser's session: a signed, HttpOnly, SameSite=Lax cookie that holds who is signed in and the CSRF token.

Signed, not encrypted: it holds nothing secret (a login, a display name, random nonces). The signature is
HMAC-SHA256 over the JSON payload; a cookie that fails the check or is past its expiry is simply not a session.
"""

import base64
import hashlib
import hmac
import secrets
import time
from typing import Literal

from fastapi import Request, Response
from pydantic import BaseModel, Field, ValidationError

COOKIE = "ns_web"


class Viewer(BaseModel):
    """A signed-in person."""

    login: str
    name: str
    via: Literal["token", "github"]


class WebSession(BaseModel):
    viewer: Viewer | None = None
    csrf: str = Field(default_factory=lambda: secrets.token_urlsafe(24))
    """Every POST form carries this; a forged cross-site form cannot know it."""
    oauth_state: str | None = None
    """The `state` sent to GitHub, checked on the callback."""
    next_path: str = "/sessions"
    """Where to go after signing in."""
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCookies:
    def __init__(self, key: bytes, *, max_age_s: int, secure: bool) -> None:
        self.key, self.max_age_s, self.secure = key, max_age_s, secure

    def new(self, **fields: object) -> WebSession:
        return WebSession.model_validate({"expires_at": time.time() + self.max_age_s, **fields})

    def encode(self, session: WebSession) -> str:
        payload = _b64(session.model_dump_json().encode())
        return f"{payload}.{self._sign(payload)}"

    def decode(self, value: str, *, now: float) -> WebSession | None:
        payload, _, signature = value.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            session = WebSession.model_validate_json(_unb64(payload))
        except ValidationError:
            return None  # signed by us but an older shape: treat as signed out
        return session if session.expires_at > now else None

    def read(self, request: Request) -> WebSession | None:
        value = request.cookies.get(COOKIE)
        return self.decode(value, now=time.time()) if value else None

    def write(self, response: Response, session: WebSession) -> None:
        response.set_cookie(
            COOKIE,
            self.encode(session),
            max_age=max(0, int(session.expires_at - time.time())),
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())
