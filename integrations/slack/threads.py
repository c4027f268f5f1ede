"""Which Slack thread answers for which session, and the bot's messages in it.

The thread -> session direction is the session's origin key (control_plane, set with the session, atomically);
this module keeps the other direction: where to post, and the ts of the run's status message to edit.
"""

from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from control_plane import keys
from harness.errors import NightshiftError

PENDING_TTL_S = 24 * 3600
"""A request waiting for its repository is forgotten after a day."""


class SlackError(NightshiftError):
    """A Slack Web API call failed; shown in the session's log when it happens after a run."""


class SlackThread(BaseModel):
    session_id: str
    team: str
    channel: str
    thread_ts: str
    status_ts: str | None
    """The bot's status message for the current run, edited in place; None when posting it failed (the final
    message is posted all the same)."""
    shown: str = ""
    """The status text last written to it, so an unchanged status costs no API call."""


class PendingRequest(BaseModel):
    """A request that named no repository, kept until someone picks one."""

    user: str
    task: str
    context: str = ""


class Threads:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, session_id: str) -> SlackThread | None:
        raw: str | None = await self.redis.get(keys.slack_thread(session_id))
        return SlackThread.model_validate_json(raw) if raw is not None else None

    async def save(self, thread: SlackThread, *, active: bool) -> None:
        """Record the thread; `active` puts the session on the list whose status message is kept current."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.slack_thread(thread.session_id), thread.model_dump_json())
            if active:
                pipe.sadd(keys.SLACK_ACTIVE, thread.session_id)
            else:
                pipe.srem(keys.SLACK_ACTIVE, thread.session_id)
            await pipe.execute()

    async def active(self) -> list[str]:
        return sorted(await self.redis.smembers(keys.SLACK_ACTIVE))

    async def park(self, origin: str, request: PendingRequest) -> None:
        await self.redis.set(keys.slack_pending(origin), request.model_dump_json(), ex=PENDING_TTL_S)

    async def unpark(self, origin: str) -> PendingRequest | None:
        """The parked request, taken once: two clicks on the buttons start one session."""
        raw: str | None = await self.redis.getdel(keys.slack_pending(origin))
        return PendingRequest.model_validate_json(raw) if raw is not None else None


class Poster:
    """The few Web API calls the bot makes. Links are never unfurled: a thread stays a thread, not a gallery."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._team: str | None = None

    async def team(self) -> str:
        """The bot's workspace id (auth.test, asked once): part of a thread's origin key."""
        if self._team is None:
            reply = await self._call(self.client.auth_test)
            self._team = str(reply["team_id"])
        return self._team

    async def post(self, channel: str, thread_ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        reply = await self._call(
            self.client.chat_postMessage,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        ts: str = reply["ts"]
        return ts

    async def start_thread(self, channel: str, text: str) -> str:
        """A new top-level message (a thread people can follow up in); returns its ts."""
        reply = await self._call(
            self.client.chat_postMessage, channel=channel, text=text, unfurl_links=False, unfurl_media=False
        )
        ts: str = reply["ts"]
        return ts

    async def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        # An empty blocks list replaces buttons with the plain text; None would leave them in place.
        await self._call(self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks or [])

    async def replies(self, channel: str, thread_ts: str, *, before_ts: str) -> list[tuple[str, str]]:
        """(user, text) of the thread's messages before `before_ts`, oldest first, bots included."""
        found: list[tuple[str, str]] = []
        cursor = None
        while True:
            page = await self._call(
                self.client.conversations_replies, channel=channel, ts=thread_ts, cursor=cursor, limit=200
            )
            for m in page["messages"]:
                if float(m["ts"]) < float(before_ts):
                    found.append((m.get("user") or m.get("bot_id", "unknown"), m.get("text", "")))
            cursor = page.get("response_metadata", {}).get("next_cursor")
            if not cursor:
                return found

    async def _call(self, method: Any, **kwargs: Any) -> Any:
        try:
            return await method(**kwargs)
        except SlackApiError as e:
            raise SlackError(f"Slack {method.__name__} failed: {e.response.get('error', e)}") from e
