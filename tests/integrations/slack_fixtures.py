"""Fixtures for the Slack tests: the Web API stand-in, a runtime with Slack on, and a way to post events to the
app exactly as Slack does (signed) and to let the app handle what it accepted."""

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from spine import settings_for

from control_plane import keys
from control_plane.models import Session
from control_plane.runtime import Runtime
from harness.events import UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn
from integrations.slack import SlackIntegration
from integrations.testing.slack_standin import SlackStandIn, event_callback, signed

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
PUBLIC_URL = "https://nightshift.example"
CHANNEL = "C0GENERAL1"
ANA = "U0ANA00001"


class SlackDriver:
    """Slack's side of the conversation with the app under test."""

    def __init__(self, rt: Runtime, api: SlackStandIn, http: httpx.AsyncClient) -> None:
        self.rt, self.api, self.http = rt, api, http
        self._ids = 0

    @property
    def integration(self) -> SlackIntegration:
        slack = self.rt.slack()
        assert slack is not None
        return slack

    async def post(self, body: bytes, *, content_type: str = "application/json", **sign: Any) -> httpx.Response:
        secret = sign.pop("secret", SIGNING_SECRET)
        headers = {"Content-Type": content_type, **signed(secret, body, **sign)}
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def event(self, event: dict[str, Any], *, event_id: str | None = None, **sign: Any) -> httpx.Response:
        self._ids += 1
        return await self.post(event_callback(event, event_id=event_id or f"Ev{self._ids:08d}"), **sign)

    async def handle_all(self) -> int:
        """Let the app handle everything it accepted; returns how many events it handled."""
        await self.integration.inbox.ensure_group()
        handled = 0
        while await self.integration.work_once(block_ms=10):
            handled += 1
        return handled

    async def sessions(self) -> list[Session]:
        return await self.rt.store.recent()

    async def user_messages(self, session_id: str) -> list[UserMessage]:
        return [e.event for e in await self.rt.store.events(session_id) if isinstance(e.event, UserMessage)]

    async def queued(self) -> int:
        count: int = await self.rt.redis.xlen(keys.SLACK_EVENTS)
        return count


@pytest.fixture
def slack_api() -> Iterator[SlackStandIn]:
    with SlackStandIn(TOKEN) as api:
        yield api


@pytest.fixture
async def slack_rt(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, redis: Redis, slack_api: SlackStandIn
) -> AsyncIterator[Runtime]:
    settings = settings_for(
        tmp_path,
        redis_url,
        standin.base_url,
        public_url=PUBLIC_URL,
        slack_bot_token=TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api.base_url,
        slack_status_interval_s=0.05,
    )
    async with Runtime.open(settings) as rt:
        yield rt


@pytest.fixture
async def slack(slack_rt: Runtime, slack_api: SlackStandIn) -> AsyncIterator[SlackDriver]:
    transport = httpx.ASGITransport(app=slack_rt.api())
    async with httpx.AsyncClient(transport=transport, base_url="http://nightshift.test") as http:
        yield SlackDriver(slack_rt, slack_api, http)


def stale() -> int:
    """A request timestamp just over Slack's five minutes old."""
    return int(time.time()) - 5 * 60 - 5
