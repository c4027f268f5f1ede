"""Signing in with GitHub: the redirect, the callback, the code exchange and the user and membership checks,
against a local stand-in for GitHub's OAuth endpoints reached over real HTTP."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from oauth_standin import CLIENT_ID, CLIENT_SECRET, GitHubOAuthStandIn, serve
from redis.asyncio import Redis
from web_helpers import TOKEN, csrf_of

from control_plane.config import Settings
from control_plane.store import SessionStore
from control_plane.web.app import create_web_app
from control_plane.web.config import web_config
from harness.errors import ConfigError

HERE = "http://nightshift.test"


@pytest.fixture
def github() -> Iterator[tuple[GitHubOAuthStandIn, str]]:
    standin = GitHubOAuthStandIn(orgs={"acme": {"octocat"}})
    with serve(standin) as server:
        yield standin, server.base_url


def oauth_settings(tmp_path: Path, github_url: str, **more: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "api_token": TOKEN,
        "public_url": HERE,
        "github_oauth_client_id": CLIENT_ID,
        "github_oauth_client_secret": CLIENT_SECRET,
        "github_oauth_url": github_url,
        "github_oauth_api_url": github_url,
        "github_oauth_org": "acme",
        **more,
    }
    return Settings.model_validate(values)


def make_app(redis: Redis, settings: Settings) -> FastAPI:
    return create_web_app(SessionStore(redis), web_config(settings, TOKEN), settings)


@pytest.fixture
async def client(
    redis: Redis, tmp_path: Path, github: tuple[GitHubOAuthStandIn, str]
) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(redis, oauth_settings(tmp_path, github[1]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HERE) as c:
        yield c


async def through_github(client: httpx.AsyncClient, start: str = "/login/github") -> httpx.Response:
    """The browser's round trip: to GitHub's authorize page (which approves), back to our callback."""
    r = await client.get(start)
    assert r.status_code == 303
    async with httpx.AsyncClient() as browser:
        back = await browser.get(r.headers["location"])
    assert back.status_code == 302
    callback = back.headers["location"]
    assert callback.startswith(f"{HERE}/login/github/callback?")
    return await client.get(callback.removeprefix(HERE))


async def test_an_org_member_signs_in_with_github(
    client: httpx.AsyncClient, github: tuple[GitHubOAuthStandIn, str]
) -> None:
    standin, _ = github
    await client.get("/login", params={"next": "/dashboard"})
    r = await through_github(client)
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard")
    page = await client.get("/dashboard")
    assert page.status_code == 200 and "Signed in as <strong>octocat</strong>" in page.text
    [asked] = standin.authorize_requests
    assert asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == f"{HERE}/login/github/callback"
    assert set(asked["scope"].split()) == {"read:user", "read:org"}
    assert len(asked["state"]) >= 20


async def test_actions_are_authored_by_the_github_login(client: httpx.AsyncClient, redis: Redis, remote: Path) -> None:
    await through_github(client)
    csrf = csrf_of((await client.get("/sessions/new")).text)
    r = await client.post("/sessions", data={"csrf": csrf, "repo": str(remote), "prompt": "fix add"})
    session = await SessionStore(redis).get(r.headers["location"].rsplit("/", 1)[1])
    assert (session.requested_by, session.source) == ("octocat", "web")


async def test_someone_outside_the_org_is_turned_away(
    client: httpx.AsyncClient, github: tuple[GitHubOAuthStandIn, str]
) -> None:
    github[0].approve_as = "mallory"
    r = await through_github(client)
    assert r.status_code == 403 and "mallory is not allowed to sign in here" in r.text
    assert (await client.get("/sessions")).status_code == 303


async def test_listed_users_sign_in_without_an_org(
    redis: Redis, tmp_path: Path, github: tuple[GitHubOAuthStandIn, str]
) -> None:
    github[0].approve_as = "hubot"
    app = make_app(redis, oauth_settings(tmp_path, github[1], github_oauth_org=None, github_oauth_users="ana, Hubot"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HERE) as c:
        assert (await through_github(c)).status_code == 303
        assert "Signed in as <strong>hubot</strong>" in (await c.get("/sessions")).text
    assert github[0].authorize_requests[0]["scope"] == "read:user"  # no org to check: no org scope asked


async def test_a_callback_this_browser_did_not_start_is_refused(
    client: httpx.AsyncClient, github: tuple[GitHubOAuthStandIn, str]
) -> None:
    # A forged callback (login CSRF): no state in this browser's session.
    r = await client.get("/login/github/callback", params={"code": "abc", "state": "forged"})
    assert r.status_code == 403
    # Started here, but the state that comes back is not the one sent.
    start = await client.get("/login/github")
    async with httpx.AsyncClient() as browser:
        back = await browser.get(start.headers["location"])
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    r = await client.get("/login/github/callback", params={"code": code, "state": "not-the-one-sent"})
    assert r.status_code == 403
    assert (await client.get("/sessions")).status_code == 303


async def test_a_code_github_refuses_shows_githubs_reason(
    client: httpx.AsyncClient, github: tuple[GitHubOAuthStandIn, str]
) -> None:
    start = await client.get("/login/github")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    r = await client.get("/login/github/callback", params={"code": "never-issued", "state": state})
    assert r.status_code == 403 and "The code passed is incorrect or expired." in r.text


async def test_with_github_on_the_token_form_is_off(client: httpx.AsyncClient) -> None:
    page = (await client.get("/login")).text
    assert 'href="/login/github"' in page and 'name="token"' not in page
    r = await client.post("/login", data={"csrf": "x", "name": "ana", "token": TOKEN})
    assert r.status_code == 404
    assert (await client.get("/sessions")).status_code == 303


async def test_without_github_its_routes_are_404(redis: Redis, tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path, "api_token": TOKEN})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app(redis, settings)), base_url=HERE) as c:
        assert (await c.get("/login/github")).status_code == 404
        assert 'href="/login/github"' not in (await c.get("/login")).text


@pytest.mark.parametrize(
    ("more", "says"),
    [
        ({"github_oauth_client_secret": None}, "NIGHTSHIFT_GITHUB_OAUTH_CLIENT_SECRET is not"),
        ({"github_oauth_org": None}, "anyone with a GitHub account could sign in"),
    ],
)
def test_github_sign_in_must_be_configured_safely(tmp_path: Path, more: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        web_config(oauth_settings(tmp_path, "http://github.test", **more), TOKEN)
