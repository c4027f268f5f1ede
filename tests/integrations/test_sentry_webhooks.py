"""POST /webhooks/sentry: signed deliveries become one triage session per Sentry issue; forged, oversized and
malformed ones change nothing; an alert storm waits in the stream under the per-project limit and is not lost."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sentry_world import CLIENT_SECRET, event_alert, headers
from spine import marker, settings_for, worker_running

from control_plane import keys
from control_plane.runtime import Runtime
from harness.events import TERMINAL_STATUSES
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use
from integrations.sentry import Sentry
from integrations.sentry.intake import STREAM
from integrations.streams import StreamConsumer


@pytest.fixture
async def sentry_rt(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, redis: Redis, remote: Path
) -> AsyncIterator[Runtime]:
    settings = settings_for(
        tmp_path,
        redis_url,
        standin.base_url,
        sentry_client_secret=CLIENT_SECRET,
        sentry_project_repos={"calc-api": str(remote), "billing": str(remote)},
        sentry_max_concurrent=2,
        sentry_max_payload_bytes=200_000,
    )
    async with Runtime.open(settings) as rt:
        yield rt


def integration(rt: Runtime) -> Sentry:
    sentry = rt.sentry()
    assert sentry is not None
    sentry.consumer.reclaim_after_ms = 20  # deferred alerts come back quickly in tests
    return sentry


async def post(rt: Runtime, body: bytes, hdrs: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=rt.api())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.post("/webhooks/sentry", content=body, headers=hdrs)


async def drain(sentry: Sentry) -> None:
    await sentry.consumer.ensure_group()
    while await sentry.consumer.step(block_ms=50):
        pass


async def test_signed_alert_starts_one_triage_session_with_the_stack_in_untrusted_markers(sentry_rt: Runtime) -> None:
    sentry = integration(sentry_rt)
    body = json.dumps(event_alert()).encode()
    response = await post(sentry_rt, body, headers(body))
    assert response.status_code == 202 and response.json() == {"status": "queued"}
    await drain(sentry)
    [session] = await sentry_rt.store.recent()
    assert session.source == "sentry" and session.origin == "sentry:1117540176"
    assert session.origin_url == "https://sentry.io/organizations/example-org/issues/1117540176/"
    [(_, prompt)] = await sentry_rt.store.inbox(session.id, after=None)
    text = prompt.text
    assert "calc.py:2" in text and "api.py:12" in text and "return a / b" in text
    assert "ZeroDivisionError: division by zero" in text and "calc@1.4.2" in text and "environment=production" in text
    assert "GET /ratio?a=29&b=0" in text and "GET /ratio?a=0&b=0" not in text  # breadcrumbs capped, newest kept
    tag = text.split("<untrusted-", 1)[1][:8]  # 4 random bytes, hex
    assert text.index(f"<untrusted-{tag}") < text.index("calc.py:2") < text.index(f"</untrusted-{tag}>")


async def test_same_issue_twice_is_one_session_and_a_note(sentry_rt: Runtime) -> None:
    sentry = integration(sentry_rt)
    body = json.dumps(event_alert()).encode()
    first = headers(body)
    assert (await post(sentry_rt, body, first)).json() == {"status": "queued"}
    assert (await post(sentry_rt, body, first)).json() == {"status": "duplicate"}  # same Request-ID
    assert (await post(sentry_rt, body, headers(body))).json() == {"status": "duplicate"}  # same event, new id
    again = json.dumps(event_alert()).encode()  # a new event of the same issue
    assert (await post(sentry_rt, again, headers(again))).json() == {"status": "queued"}  # fired again
    await drain(sentry)
    [session] = await sentry_rt.store.recent()
    inbox = await sentry_rt.store.inbox(session.id, after=None)
    assert len(inbox) == 2 and "fired again" in inbox[1][1].text


@pytest.mark.parametrize("case", ["unsigned", "tampered", "wrong secret", "oversized", "malformed", "not an object"])
async def test_rejected_deliveries_change_nothing(sentry_rt: Runtime, redis: Redis, case: str) -> None:
    integration(sentry_rt)
    body = json.dumps(event_alert()).encode()
    hdrs = headers(body)
    expected = 401
    if case == "unsigned":
        del hdrs["sentry-hook-signature"]
    elif case == "tampered":
        body = body.replace(b"division by zero", b"division by one!")
    elif case == "wrong secret":
        hdrs = headers(body, secret="not-the-secret")
    elif case == "oversized":
        raw = event_alert()
        raw["data"]["event"]["extra"] = "x" * 300_000
        body = json.dumps(raw).encode()
        hdrs, expected = headers(body), 413
    elif case == "malformed":
        raw = event_alert()
        del raw["data"]["event"]["web_url"]
        body = json.dumps(raw).encode()
        hdrs, expected = headers(body), 400
    else:
        body = b"[1, 2]"
        hdrs, expected = headers(body), 400
    assert (await post(sentry_rt, body, hdrs)).status_code == expected
    assert await redis.xlen(keys.SENTRY_ALERTS) == 0
    assert await sentry_rt.store.recent() == []


async def test_other_resources_are_acknowledged_and_ignored(sentry_rt: Runtime, redis: Redis) -> None:
    integration(sentry_rt)
    for resource, status in [("installation", "installed"), ("metric_alert", "ignored"), ("comment", "ignored")]:
        body = json.dumps({"action": "created", "data": {}}).encode()
        response = await post(sentry_rt, body, headers(body, resource=resource))
        assert response.status_code == 202 and response.json() == {"status": status}
    assert await redis.xlen(keys.SENTRY_ALERTS) == 0


async def test_alert_storm_is_bounded_per_project_and_nothing_is_lost(
    sentry_rt: Runtime, standin: AnthropicStandIn
) -> None:
    # 500 deliveries of 20 Sentry issues over two projects; a real worker runs the triage sessions with the scripted
    # model (each reads a file and reports), while two consumers, as two API processes would, start them.
    sentry = integration(sentry_rt)
    tags = {issue: marker() for issue in range(20, 40)}
    for tag in tags.values():
        standin.register(
            Script(
                # A repeat of the issue may reach a running triage as a note: it answers that with a report too.
                [Reply(tool_use("finish", {"summary": "add() subtracts: calc.py:2"}))] * 3,
                key=tag,
            )
        )
    bodies = []
    for i in range(500):
        issue = 20 + i % 20
        raw = event_alert(str(issue), "calc-api" if issue % 2 else "billing")
        raw["data"]["event"]["title"] = f"ZeroDivisionError {tags[issue]}"
        bodies.append(json.dumps(raw).encode())
    transport = httpx.ASGITransport(app=sentry_rt.api())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for body in bodies:
            assert (await http.post("/webhooks/sentry", content=body, headers=headers(body))).status_code == 202
    sentry.consumer.reclaim_after_ms = 200  # a deferred alert is offered again after 0.2 s (10 s by default)
    other = StreamConsumer(sentry_rt.redis, STREAM, sentry.handler, reclaim_after_s=0.2, max_attempts=3, name="b")
    consumers = [asyncio.create_task(c.run(block_ms=50)) for c in (sentry.consumer, other)]
    most = {"calc-api": 0, "billing": 0}
    try:
        async with worker_running(sentry_rt, concurrency=4), asyncio.timeout(100):
            while True:
                for project in most:
                    most[project] = max(most[project], await sentry.handler.starter.running(f"sentry:{project}"))
                sessions = await sentry_rt.store.recent(limit=100)
                done = all(s.status in TERMINAL_STATUSES for s in sessions)
                if len(sessions) == 20 and done and await sentry_rt.redis.xlen(keys.SENTRY_ALERTS) == 0:
                    break
                await asyncio.sleep(0.05)
    finally:
        sentry.consumer.stop()
        other.stop()
        await asyncio.gather(*consumers)
    assert most == {"calc-api": 2, "billing": 2}  # the limit was reached, never passed
    sessions = await sentry_rt.store.recent(limit=100)
    assert len(sessions) == 20 and len({s.origin for s in sessions}) == 20  # one per Sentry issue, none lost
    assert {s.status for s in sessions} == {"finished"}
    assert await sentry_rt.redis.xlen(keys.SENTRY_ALERTS) == 0
