"""The API routes that take a cursor into a session's log (`after=`, Last-Event-ID) answer a malformed one with 400
and what an id looks like, never a 500 from Redis; the largest id Redis accepts still works."""

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from control_plane.api import ApiConfig, create_app
from control_plane.models import Session
from control_plane.store import SessionStore
from harness.events import SessionCreated, StatusChanged, UserMessage

TOKEN = "test-token-1234567890"
BAD = [
    "99999999999999999999-0",  # beyond 64 bits: Redis answered "Invalid stream ID" (a 500)
    "18446744073709551616-0",
    "0-18446744073709551616",
    "18446744073709551615-18446744073709551615",  # the last id: nothing after it, Redis refuses it as a start
    "\u0661\u0662-\u0660",  # Arabic-Indic digits: \d matches them, Redis does not
    "12",
    "12-",
    "1-2-3",
    "latest",
]


@pytest.fixture
async def client(redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(redis, SessionStore(redis), ApiConfig(api_token=TOKEN, stream_block_ms=50))
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
        yield c


@pytest.fixture
async def session_id(redis: Redis) -> str:
    now = time.time()
    session = Session(
        id="c0ffee000001",
        repo="/srv/r.git",
        base=None,
        branch="nightshift/x-c0ffee000001",
        title="x",
        source="api",
        requested_by="ana",
        status="finished",
        created_at=now,
        updated_at=now,
    )
    created = SessionCreated(repo="/srv/r.git", base=None, branch=session.branch, source="api", requested_by="ana")
    first = UserMessage(text="x", author="ana")
    await SessionStore(redis).create(session, [created, StatusChanged(status="finished")], first)
    return session.id


@pytest.mark.parametrize("cursor", BAD)
@pytest.mark.parametrize("route", ["events", "stream"])
async def test_a_malformed_after_is_a_400(client: httpx.AsyncClient, session_id: str, route: str, cursor: str) -> None:
    r = await client.get(f"/api/sessions/{session_id}/{route}", params={"after": cursor})
    assert r.status_code == 400, r.text
    assert "is not an event id: expected <milliseconds>-<sequence>" in r.json()["detail"]


@pytest.mark.parametrize("cursor", BAD[:4] + BAD[5:])  # a header is latin-1: no Arabic-Indic digits in one
async def test_a_malformed_last_event_id_is_a_400(client: httpx.AsyncClient, session_id: str, cursor: str) -> None:
    r = await client.get(f"/api/sessions/{session_id}/stream", headers={"Last-Event-ID": cursor})
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith(f"Last-Event-ID '{cursor}' is not an event id")


async def test_the_largest_cursors_redis_takes_still_work(client: httpx.AsyncClient, session_id: str) -> None:
    r = await client.get(f"/api/sessions/{session_id}/events", params={"after": "18446744073709551615-0"})
    assert (r.status_code, r.json()) == (200, [])
    everything = await client.get(f"/api/sessions/{session_id}/events", params={"after": "0-0"})
    assert len(everything.json()) == 3
    r = await client.get(f"/api/sessions/{session_id}/stream", headers={"Last-Event-ID": "18446744073709551614-7"})
    assert r.status_code == 200 and r.text == ""  # nothing after it, and the session has ended
