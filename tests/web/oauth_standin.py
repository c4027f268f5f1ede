"""A local stand-in for GitHub's OAuth web flow and the two REST calls sign-in makes, speaking GitHub's wire format:

* GET  /login/oauth/authorize       the browser's stop at GitHub: here it approves at once, as `approve_as`, and
                                    redirects to redirect_uri with ?code=...&state=... (state echoed unchanged)
* POST /login/oauth/access_token    form-encoded client_id, client_secret, code, redirect_uri; with Accept:
                                    application/json answers {"access_token", "token_type", "scope"}, or 200 with
                                    {"error": "bad_verification_code", ...} as GitHub does for a bad code
* GET  /user                        the signed-in user (Authorization: Bearer), 401 {"message": "Bad credentials"}
* GET  /user/memberships/orgs/{org} 200 {"state": "active", ...} for a member, 404 {"message": "Not Found"}

Shapes from GitHub's docs: "Authorizing OAuth apps" and the REST reference for users and org memberships.
"""

import secrets
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from urllib.parse import urlencode

from live_server import AppThread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

CLIENT_ID, CLIENT_SECRET = "Iv1.standin0client", "standin-oauth-secret-" + "7e3a" * 6


@dataclass
class GitHubOAuthStandIn:
    approve_as: str = "octocat"
    name: str | None = "The Octocat"
    orgs: dict[str, set[str]] = field(default_factory=dict)
    """org -> logins that are active members."""
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    _codes: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/login/oauth/authorize", self._authorize),
                Route("/login/oauth/access_token", self._token, methods=["POST"]),
                Route("/user", self._user),
                Route("/user/memberships/orgs/{org}", self._membership),
            ]
        )

    async def _authorize(self, request: Request) -> Response:
        q = dict(request.query_params)
        self.authorize_requests.append(q)
        code = secrets.token_hex(10)
        self._codes[code] = self.approve_as
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        login = self._codes.pop(str(form.get("code")), None)  # a code works once
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse(
                {
                    "error": "incorrect_client_credentials",
                    "error_description": "The client_id and/or client_secret passed are incorrect.",
                }
            )
        if login is None:
            return JSONResponse(
                {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}
            )
        token = "gho_" + secrets.token_hex(16)
        self._tokens[token] = login
        return JSONResponse({"access_token": token, "token_type": "bearer", "scope": "read:org,read:user"})

    def _login(self, request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return self._tokens.get(auth.removeprefix("Bearer ").removeprefix("token "))

    async def _user(self, request: Request) -> Response:
        login = self._login(request)
        if login is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse({"login": login, "id": 583231, "type": "User", "name": self.name, "site_admin": False})

    async def _membership(self, request: Request) -> Response:
        login, org = self._login(request), request.path_params["org"]
        if login is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        if login not in self.orgs.get(org, set()):
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(
            {"state": "active", "role": "member", "organization": {"login": org}, "user": {"login": login}}
        )


def serve(standin: GitHubOAuthStandIn) -> AppThread:
    async def make(stack: AsyncExitStack) -> ASGIApp:
        return standin.app()

    return AppThread(make)
