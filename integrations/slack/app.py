"""Bolt for Python, wired to Nightshift: the HTTP endpoint (POST /slack/events), Socket Mode, and the background
work (handling accepted events, keeping status messages current).

Bolt checks the request signature and refuses stale timestamps before any listener runs. Listeners only parse the
payload and queue it (inbox.py) — milliseconds — and Slack gets its 200 after the event is safely in Redis
(process_before_response): a process that dies after answering Slack has not lost the event.
"""

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from redis.asyncio import Redis
from slack_bolt import BoltResponse
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.request.internals import build_normalized_headers, extract_content_type, parse_body
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from control_plane.git import GitCredentials
from control_plane.store import SessionStore
from harness.errors import NightshiftError
from integrations.slack.config import SlackConfig
from integrations.slack.events import CHOOSE_REPO, MalformedEvent, parse_event, parse_repo_choice
from integrations.slack.handlers import SlackHandler
from integrations.slack.inbox import SlackInbox
from integrations.slack.observer import SlackRunObserver
from integrations.slack.report import ChannelReporter
from integrations.slack.status import StatusLoop
from integrations.slack.threads import Poster, Threads

log = logging.getLogger(__name__)


class SlackIntegration:
    """Everything Slack, built once by the composition root from SlackConfig and the control plane's parts."""

    def __init__(
        self, config: SlackConfig, redis: Redis, store: SessionStore, *, credentials: GitCredentials | None = None
    ) -> None:
        self.config = config
        self.client = AsyncWebClient(token=config.bot_token.get_secret_value(), base_url=config.api_url)
        consumer = f"{socket.gethostname()}-{id(self):x}"
        self.inbox = SlackInbox(redis, consumer=consumer, reclaim_after_s=config.reclaim_after_s)
        threads, poster = Threads(redis), Poster(self.client)
        self.handler = SlackHandler(config, redis, store, threads, poster, credentials)
        self.status = StatusLoop(config, redis, store, threads, poster)
        self.observer = SlackRunObserver(config, store, threads, poster)
        self.reporter = ChannelReporter(config, redis, store, threads, poster)
        self.bolt = _bolt(config, self.client, self.inbox)

    def router(self) -> APIRouter:
        """POST /slack/events, plus the background work for as long as the app serves."""
        handler = AsyncSlackRequestHandler(self.bolt)
        router = APIRouter(lifespan=self._lifespan)

        verifier = SignatureVerifier(self.config.signing_secret.get_secret_value())

        @router.post("/slack/events", include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            # Checked before Bolt sees the request: Bolt parses the body before its own signature check, and fails
            # (a 500) on a JSON body that is not an object.
            try:
                body = (await request.body()).decode("utf-8")  # the verifier decodes strictly too: Slack sends UTF-8
            except UnicodeDecodeError:
                return Response("the request body is not UTF-8", status_code=400, media_type="text/plain")
            timestamp = request.headers.get("x-slack-request-timestamp", "")
            # The verifier reads the timestamp with int() and lets a non-number out as ValueError.
            if not (timestamp.isascii() and timestamp.isdigit() and verifier.is_valid_request(body, request.headers)):
                return Response("invalid or missing Slack signature", status_code=401, media_type="text/plain")
            if not _is_json_object(body, dict(request.headers)):
                return Response("malformed request body", status_code=400, media_type="text/plain")
            try:
                return await handler.handle(request)
            except (AttributeError, TypeError, KeyError, IndexError) as e:
                # Bolt reads fields of the body (authorizations, team, user...) without checking their types, while
                # building its request; errors of listeners it turns into responses itself, so these are the body's.
                log.warning("slack: a signed request whose body Bolt cannot read: %r", e)
                return Response("malformed request body", status_code=400, media_type="text/plain")

        return router

    async def work_once(self, *, block_ms: int = 1000) -> bool:
        """Handle one accepted event, if one comes within block_ms; False when none came."""
        delivery = await self.inbox.next(block_ms=block_ms)
        if delivery is None:
            return False
        if delivery.attempt > self.config.max_attempts:
            log.error("slack: dropping %s after %d attempts: %r", delivery.entry_id, delivery.attempt, delivery.job)
        else:
            try:
                await self.handler.handle(delivery.job)
            except NightshiftError:
                # Left unacknowledged: another round (or process) takes it again after reclaim_after_s.
                log.exception("slack: handling %s failed (attempt %d)", delivery.entry_id, delivery.attempt)
                return True
        await self.inbox.done(delivery.entry_id)
        return True

    async def work(self, stopping: asyncio.Event) -> None:
        await self.inbox.ensure_group()
        while not stopping.is_set():
            await self.work_once()

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        socket_mode = None
        if self.config.app_token is not None:
            token = self.config.app_token.get_secret_value()
            socket_mode = AsyncSocketModeHandler(self.bolt, token, web_client=self.client)
            await socket_mode.connect_async()
        # Stopped by an event between reads, never cancelled: cancelling a task inside a blocking Redis read can hang
        # redis-py's asyncio client (seen in the full suite), so each loop finishes its round and returns.
        stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(_supervised(self.work, stopping)),
            asyncio.create_task(_supervised(self.status.run, stopping)),
        ]
        try:
            yield
        finally:
            stopping.set()
            await asyncio.gather(*tasks)
            if socket_mode is not None:
                await socket_mode.close_async()


async def _supervised(loop: Callable[[asyncio.Event], Awaitable[None]], stopping: asyncio.Event) -> None:
    """Run a background loop for the life of the app: a Redis or Slack outage is logged and waited out, not left
    to end the loop silently while the API keeps serving (accepted events wait in Redis meanwhile)."""
    while not stopping.is_set():
        try:
            await loop(stopping)
        except Exception:
            log.exception("slack: %s failed; restarting it in 5s", loop.__qualname__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 5)  # a restart pause that still ends at shutdown


def _is_json_object(body: str, headers: dict[str, str]) -> bool:
    """Whether Bolt's own parsing of the body (JSON, or a form with a JSON `payload`) gives an object."""
    content_type = extract_content_type(build_normalized_headers(dict(headers)))
    try:
        return isinstance(parse_body(body, content_type), dict)
    except ValueError:  # not JSON
        return False


def _bolt(config: SlackConfig, client: AsyncWebClient, inbox: SlackInbox) -> AsyncApp:
    app = AsyncApp(
        client=client,
        signing_secret=config.signing_secret.get_secret_value(),
        process_before_response=True,  # answer Slack only once the event is queued in Redis
    )

    async def accept_message(body: dict[str, Any], context: AsyncBoltContext) -> BoltResponse | None:
        try:
            message = parse_event(body, bot_user_id=context.bot_user_id, allow_bots=config.allow_bots)
        except MalformedEvent as e:
            return BoltResponse(status=400, body=str(e))
        if message is not None and not await inbox.accept(message.event_id, message):
            log.info("slack: duplicate delivery of %s ignored", message.event_id)
        return None

    app.event("app_mention")(accept_message)
    app.event("message")(accept_message)

    @app.action(re.compile(f"^{CHOOSE_REPO}"))
    async def accept_choice(ack: Any, body: dict[str, Any]) -> BoltResponse | None:
        try:
            choice = parse_repo_choice(body)
        except MalformedEvent as e:
            return BoltResponse(status=400, body=str(e))
        await inbox.accept(choice.click_id, choice)
        await ack()
        return None

    return app
