"""GitHub OAuth (web application flow): the authorize URL, the code exchange, and who the person is.

https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps — the browser is sent to
{url}/login/oauth/authorize; GitHub sends it back to our callback with `code` and our `state`; we exchange the
code at {url}/login/oauth/access_token and read {api_url}/user (and the org membership) with the token.
"""

from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ValidationError

from control_plane.web.config import GitHubOAuthConfig
from harness.errors import NightshiftError


class OAuthError(NightshiftError):
    """Sign-in with GitHub did not work out; the message is shown on the sign-in page."""


class GitHubUser(BaseModel):
    login: str
    name: str | None = None


class _Token(BaseModel):
    access_token: str


def authorize_url(cfg: GitHubOAuthConfig, *, redirect_uri: str, state: str) -> str:
    scope = "read:user read:org" if cfg.org else "read:user"
    query = urlencode({"client_id": cfg.client_id, "redirect_uri": redirect_uri, "scope": scope, "state": state})
    return f"{cfg.url}/login/oauth/authorize?{query}"


async def sign_in(cfg: GitHubOAuthConfig, *, code: str, redirect_uri: str) -> GitHubUser:
    """Exchange the code, read the user, and check they are allowed in."""
    try:
        async with httpx.AsyncClient(timeout=15) as http:
            token = await _exchange(http, cfg, code, redirect_uri)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
            user = GitHubUser.model_validate(_ok(await http.get(f"{cfg.api_url}/user", headers=headers)).json())
            allowed = user.login.lower() in cfg.users or (
                cfg.org is not None and await _active_member(http, cfg, cfg.org, headers)
            )
    except httpx.HTTPError as e:
        raise OAuthError(f"could not reach GitHub: {e}") from e
    if not allowed:
        raise OAuthError(f"{user.login} is not allowed to sign in here; ask an admin to add you")
    return user


async def _exchange(http: httpx.AsyncClient, cfg: GitHubOAuthConfig, code: str, redirect_uri: str) -> str:
    response = await http.post(
        f"{cfg.url}/login/oauth/access_token",
        data={
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret.get_secret_value(),
            "code": code,
            "redirect_uri": redirect_uri,
        },
        headers={"Accept": "application/json"},
    )
    body = _ok(response).json()
    try:
        return _Token.model_validate(body).access_token
    except ValidationError:
        # GitHub answers 200 with {"error": ..., "error_description": ...} for a bad or expired code
        raise OAuthError(f"GitHub refused the sign-in: {body.get('error_description') or body}") from None


async def _active_member(http: httpx.AsyncClient, cfg: GitHubOAuthConfig, org: str, headers: dict[str, str]) -> bool:
    response = await http.get(f"{cfg.api_url}/user/memberships/orgs/{org}", headers=headers)
    if response.status_code in (403, 404):
        return False  # GitHub's answer for "not a member" (or membership hidden from this token)
    return bool(_ok(response).json().get("state") == "active")


def _ok(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        raise OAuthError(f"GitHub answered {response.status_code} to {response.request.url.path}")
    return response
