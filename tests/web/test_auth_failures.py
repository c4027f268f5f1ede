"""Wrong API tokens and failed web sign-ins are limited per client address, counted in Redis: after a burst the
client gets 429 with Retry-After (a right token too, until the window ends), the limit is logged, other clients
are untouched, and successes are never counted. Client addresses are only labels in the ASGI scope here (TEST-NET
and documentation ranges): no traffic goes anywhere."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from web_helpers import TOKEN, csrf_of

from control_plane.api import ApiConfig, create_app
from control_plane.config import Settings
from control_plane.store import SessionStore
from control_plane.web.app import create_web_app
from control_plane.web.config import web_config

LIMIT, WINDOW_S = 3, 2


def api_app(redis: Redis) -> FastAPI:
    config = ApiConfig(api_token=TOKEN, auth_failure_limit=LIMIT, auth_failure_window_s=WINDOW_S)
    return create_app(redis, SessionStore(redis), config)


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://nightshift.test") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_burst_of_wrong_tokens_is_refused_with_429_until_the_window_ends(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    app = api_app(redis)
    async with client_at(app, "192.0.2.10") as mallory, client_at(app, "192.0.2.20") as ana:
        codes = [(await mallory.get("/api/sessions", headers=bearer(f"guess-{i}"))).status_code for i in range(LIMIT)]
        assert codes == [401] * LIMIT
        with caplog.at_level(logging.WARNING, logger="control_plane.auth_failures"):
            refused = await mallory.get("/api/sessions", headers=bearer("guess-again"))
            right = await mallory.get("/api/sessions", headers=bearer(TOKEN))
        assert (refused.status_code, right.status_code) == (429, 429)  # a right token does not tell itself apart
        assert 1 <= int(right.headers["Retry-After"]) <= WINDOW_S
        assert "too many wrong tokens from 192.0.2.10" in right.json()["detail"]
        assert (await ana.get("/api/sessions", headers=bearer(TOKEN))).status_code == 200  # another client
        assert (await ana.get("/api/sessions", headers=bearer("typo"))).status_code == 401
        await asyncio.sleep(int(right.headers["Retry-After"]) + 0.2)  # the window ends: not a timing assertion
        assert (await mallory.get("/api/sessions", headers=bearer(TOKEN))).status_code == 200
    assert any("3 failed authentications (last: API bearer token) from 192.0.2.10" in r.message for r in caplog.records)


async def test_successes_and_missing_tokens_are_not_counted(redis: Redis) -> None:
    app = api_app(redis)
    async with client_at(app, "192.0.2.30") as c:
        for _ in range(3 * LIMIT):
            assert (await c.get("/api/sessions", headers=bearer(TOKEN))).status_code == 200
            assert (await c.get("/api/sessions")).status_code == 401  # no credential is not a guess
        for _ in range(LIMIT - 1):
            assert (await c.get("/api/sessions", headers=bearer("wrong"))).status_code == 401
        assert (await c.get("/api/sessions", headers=bearer(TOKEN))).status_code == 200


async def test_every_api_process_shares_the_count(redis: Redis) -> None:
    first, second = api_app(redis), api_app(redis)
    async with client_at(first, "192.0.2.40") as a, client_at(second, "192.0.2.40") as b:
        for i in range(LIMIT):
            await (a if i % 2 else b).get("/api/sessions", headers=bearer("wrong"))
        assert (await a.get("/api/sessions", headers=bearer(TOKEN))).status_code == 429
        assert (await b.get("/api/sessions", headers=bearer(TOKEN))).status_code == 429


async def test_an_ipv6_client_counts_as_its_64(redis: Redis) -> None:
    app = api_app(redis)
    async with (
        client_at(app, "2001:db8::1") as one,
        client_at(app, "2001:db8::2") as same_64,
        client_at(app, "2001:db8:0:1::1") as next_64,
    ):
        for _ in range(LIMIT):
            await one.get("/api/sessions", headers=bearer("wrong"))
        assert (await same_64.get("/api/sessions", headers=bearer(TOKEN))).status_code == 429
        assert (await next_64.get("/api/sessions", headers=bearer(TOKEN))).status_code == 200


async def test_failed_web_sign_ins_are_limited_too_and_share_the_count(redis: Redis, tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"data_dir": tmp_path, "api_token": TOKEN, "auth_failure_limit": LIMIT, "auth_failure_window_s": WINDOW_S}
    )
    web = create_web_app(SessionStore(redis), web_config(settings, TOKEN), settings)
    async with client_at(web, "192.0.2.50") as browser, client_at(api_app(redis), "192.0.2.50") as script:
        csrf = csrf_of((await browser.get("/login")).text)
        for i in range(LIMIT):
            r = await browser.post("/login", data={"csrf": csrf, "name": "mallory", "token": f"guess-{i}"})
            assert r.status_code == 401
        r = await browser.post("/login", data={"csrf": csrf, "name": "ana", "token": TOKEN})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "Too many failed sign-ins from your address" in r.text
        assert (await script.get("/api/sessions", headers=bearer(TOKEN))).status_code == 429
