"""The HTTP API with a real Redis: auth, validation, and that refused input changes nothing."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from control_plane import keys
from control_plane.api import ApiConfig, create_app
from control_plane.store import SessionStore

TOKEN = "test-token-1234567890"


@pytest.fixture
async def client(redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(redis, SessionStore(redis), ApiConfig(api_token=TOKEN, max_prompt_bytes=10_000))
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
        yield c


async def nothing_written(redis: Redis) -> bool:
    return await redis.zcard(keys.SESSIONS) == 0 and not await redis.exists(keys.QUEUE)


async def test_healthz_needs_no_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"Authorization": ""})
    assert r.status_code == 200 and r.json() == {"ok": True, "redis": True}


@pytest.mark.parametrize("auth", ["", "Bearer wrong-token", "Basic dXNlcjpwYXNz", f"Bearer {TOKEN}x"])
async def test_api_refuses_missing_or_wrong_token(
    client: httpx.AsyncClient, redis: Redis, auth: str, remote: Path
) -> None:
    r = await client.post("/api/sessions", json={"repo": str(remote), "prompt": "x"}, headers={"Authorization": auth})
    assert r.status_code == 401
    assert await nothing_written(redis)


async def test_create_get_list_events_message_cancel(client: httpx.AsyncClient, remote: Path) -> None:
    r = await client.post(
        "/api/sessions", json={"repo": str(remote), "prompt": "fix add\nplease", "requested_by": "ana"}
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "queued" and created["branch"].startswith("nightshift/fix-add-")
    session = (await client.get(f"/api/sessions/{created['id']}")).json()
    assert (session["title"], session["requested_by"], session["repo"]) == ("fix add", "ana", str(remote))
    assert [s["id"] for s in (await client.get("/api/sessions")).json()] == [created["id"]]
    events = (await client.get(f"/api/sessions/{created['id']}/events")).json()
    assert [e["event"]["kind"] for e in events] == ["session_created", "status_changed", "user_message"]
    after = (await client.get(f"/api/sessions/{created['id']}/events", params={"after": events[0]["id"]})).json()
    assert [e["id"] for e in after] == [e["id"] for e in events[1:]]
    r = await client.post(f"/api/sessions/{created['id']}/messages", json={"text": "and docs", "author": "bo"})
    assert (r.status_code, r.json()) == (202, {"reopened": False})
    r = await client.post(f"/api/sessions/{created['id']}/cancel")
    assert (r.status_code, r.json()) == (202, {"result": "cancelled"})
    assert (await client.get(f"/api/sessions/{created['id']}")).json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"repo": "/no/such/repo", "prompt": "x"}, 400, "cannot reach repository"),
        ({"repo": "REMOTE", "prompt": "x", "base": "no-such-branch"}, 400, "is not a branch or tag"),
        ({"repo": "REMOTE", "prompt": "x", "base": "bad ref; rm -rf /"}, 422, "base must be a branch"),
        ({"repo": "REMOTE", "prompt": ""}, 422, "at least 1 character"),
        ({"repo": "REMOTE"}, 422, "Field required"),
        ({"repo": "REMOTE", "prompt": "x" * 20_000}, 400, "the prompt is 20,000 bytes; the limit is 10,000"),
        ({"repo": "REMOTE", "prompt": "x" * 2_000_000}, 413, ""),
        ({"repo": "REMOTE", "prompt": "x", "source": "carrier-pigeon"}, 422, "Input should be"),
    ],
)
async def test_bad_session_requests_are_refused_and_change_nothing(
    client: httpx.AsyncClient, redis: Redis, remote: Path, body: dict[str, str], status: int, says: str
) -> None:
    body = {k: str(remote) if v == "REMOTE" else v for k, v in body.items()}
    r = await client.post("/api/sessions", json=body)
    assert r.status_code == status, r.text
    assert says in r.text
    assert await nothing_written(redis)


async def test_malformed_json_is_a_422(client: httpx.AsyncClient, redis: Redis) -> None:
    r = await client.post(
        "/api/sessions", content=b'{"repo": "x", "prompt": ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert await nothing_written(redis)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/sessions/nope"), ("GET", "/api/sessions/nope/events"), ("POST", "/api/sessions/nope/cancel")],
)
async def test_unknown_session_is_a_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    r = await client.request(method, path)
    assert (r.status_code, r.json()) == (404, {"detail": "no session 'nope'"})


async def test_message_to_unknown_session_is_a_404_and_writes_nothing(client: httpx.AsyncClient, redis: Redis) -> None:
    r = await client.post("/api/sessions/nope/messages", json={"text": "hi"})
    assert r.status_code == 404
    assert await redis.keys("*") == []


async def test_bad_cursor_is_a_400(client: httpx.AsyncClient, remote: Path) -> None:
    created = (await client.post("/api/sessions", json={"repo": str(remote), "prompt": "x"})).json()
    r = await client.get(f"/api/sessions/{created['id']}/events", params={"after": "'; DROP"})
    assert r.status_code == 400  # every malformed cursor alike: tests/control_plane/test_event_cursor.py


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {"/api/sessions", "/api/sessions/{session_id}/stream", "/healthz"} <= set(spec["paths"])
    assert (await client.get("/docs")).status_code == 200
