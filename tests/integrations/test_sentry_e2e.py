"""End to end with the scripted model (the stand-in replays scripted turns; it is not a model) against a real git
repository holding the failing code: a signed Sentry alert → one triage session run by a worker → the triage report
as a new thread in the project's Slack channel; the same alert again starts nothing new."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sentry_world import CLIENT_SECRET, event_alert, headers
from slack_fixtures import PUBLIC_URL, TOKEN, slack_api
from spine import marker, settings_for, wait_status, worker_running

from control_plane.runtime import Runtime
from harness.events import TERMINAL_STATUSES, Note, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use
from integrations.sentry.models import Delivery
from integrations.sentry.payload import parse
from integrations.testing.slack_standin import SlackStandIn

__all__ = ["slack_api"]  # fixture

ONCALL = "C0ONCALL01"


@pytest.fixture
async def triage_rt(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, redis: Redis, remote: Path, slack_api: SlackStandIn
) -> AsyncIterator[Runtime]:
    settings = settings_for(
        tmp_path,
        redis_url,
        standin.base_url,
        public_url=PUBLIC_URL,
        slack_bot_token=TOKEN,
        slack_signing_secret="8f742231b10e8888abcd99yyyzzz85a5",
        slack_api_url=slack_api.base_url,
        sentry_client_secret=CLIENT_SECRET,
        sentry_project_repos={"calc-api": str(remote)},
        sentry_project_channels={"calc-api": ONCALL},
    )
    async with Runtime.open(settings) as rt:
        yield rt


async def test_alert_to_triage_report_in_slack(
    triage_rt: Runtime, standin: AnthropicStandIn, slack_api: SlackStandIn
) -> None:
    tag = marker()
    standin.register(
        Script(
            [
                Reply("Reading the failing frame.", tool_use("read_file", {"path": "calc.py"})),
                Reply(tool_use("finish", {"summary": f"{tag} add() subtracts: calc.py:2. Confidence: high."})),
            ],
            key=tag,
        )
    )
    raw = event_alert()
    raw["data"]["event"]["title"] = f"AssertionError {tag}"
    body = json.dumps(raw).encode()
    sentry = triage_rt.sentry()
    assert sentry is not None
    transport = httpx.ASGITransport(app=triage_rt.api())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.post("/webhooks/sentry", content=body, headers=headers(body))).status_code == 202
        await sentry.consumer.ensure_group()
        assert await sentry.consumer.step(block_ms=100)
        [session] = await triage_rt.store.recent()
        async with worker_running(triage_rt):
            await wait_status(triage_rt, session.id, set(TERMINAL_STATUSES))
            async with asyncio.timeout(30):
                while not [c for c in slack_api.calls_to("chat.postMessage") if c.args.get("channel") == ONCALL]:
                    await asyncio.sleep(0.05)
        [report] = [c for c in slack_api.calls_to("chat.postMessage") if c.args.get("channel") == ONCALL]
        assert "thread_ts" not in report.args  # a new thread people can follow up in
        assert "calc.py:2" in report.args["text"] and session.origin_url in report.args["text"]
        # The same alert, delivered again under a new Request-ID, is a duplicate; a new event of the same issue
        # starts no second session either.
        assert (await http.post("/webhooks/sentry", content=body, headers=headers(body))).status_code == 202
        assert not await sentry.consumer.step(block_ms=100)
        raw["data"]["event"]["event_id"] = "0" * 32
        again = json.dumps(raw).encode()
        assert (await http.post("/webhooks/sentry", content=again, headers=headers(again))).status_code == 202
        assert await sentry.consumer.step(block_ms=100)
    assert [s.id for s in await triage_rt.store.recent()] == [session.id]


async def test_a_retried_alert_is_not_a_repeat_of_itself(triage_rt: Runtime) -> None:
    """A delivery handled again (its process died after the session was created, or after a repeat was told) adds
    nothing: the event is known in the session by its id."""
    sentry = triage_rt.sentry()
    assert sentry is not None
    first, repeat = json.dumps(event_alert()).encode(), json.dumps(event_alert()).encode()

    def delivery(body: bytes) -> str:
        alert = parse("event_alert", body)
        assert alert is not None
        return Delivery(request_id="r-1", received_at=0.0, alert=alert).model_dump_json()

    await sentry.consumer.handle(delivery(first))
    [session] = await triage_rt.store.recent()
    await sentry.consumer.handle(delivery(first))  # the retry
    assert await _told(triage_rt, session.id) == (1, 0)
    await sentry.consumer.handle(delivery(repeat))  # a new event of the issue: told once
    await sentry.consumer.handle(delivery(repeat))
    assert await _told(triage_rt, session.id) == (2, 0)
    assert [s.id for s in await triage_rt.store.recent()] == [session.id]


async def _told(rt: Runtime, session_id: str) -> tuple[int, int]:
    """(messages, notes of a repeat) in the session's log."""
    events = [e.event for e in await rt.store.events(session_id)]
    notes = [e for e in events if isinstance(e, Note) and "fired again" in e.text]
    return sum(isinstance(e, UserMessage) for e in events), len(notes)
