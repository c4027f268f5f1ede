"""Keeps each running Slack session's one status message current: edited in place, at most once per interval.

Any number of processes may run this loop; a short lease lets one of them do a round at a time, so a message
is never edited twice for one change. The run's last word is the observer's (observer.py), not this loop's.
"""

import asyncio
import contextlib
import uuid

from redis.asyncio import Redis

from control_plane import keys
from control_plane.errors import NotFound
from control_plane.store import SessionStore
from harness.events import TERMINAL_STATUSES
from integrations.slack import format
from integrations.slack.config import SlackConfig
from integrations.slack.threads import Poster, Threads


class StatusLoop:
    def __init__(
        self, config: SlackConfig, redis: Redis, store: SessionStore, threads: Threads, poster: Poster
    ) -> None:
        self.config, self.redis, self.store, self.threads, self.poster = config, redis, store, threads, poster
        self._me = uuid.uuid4().hex

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.round()
            with contextlib.suppress(TimeoutError):  # the interval is a pause that still ends at shutdown
                await asyncio.wait_for(stopping.wait(), self.config.status_interval_s)

    async def round(self) -> int:
        """Edit the status messages whose text changed; returns how many were edited."""
        lease_ms = int(self.config.status_interval_s * 1000)
        if not await self.redis.set(keys.SLACK_STATUS_LEASE, self._me, nx=True, px=lease_ms):
            return 0
        edited = 0
        for session_id in await self.threads.active():
            edited += await self._refresh(session_id)
        return edited

    async def _refresh(self, session_id: str) -> int:
        thread = await self.threads.get(session_id)
        try:
            session = await self.store.get(session_id)
        except NotFound:
            session = None
        if thread is None or session is None or session.status in TERMINAL_STATUSES:
            await self.redis.srem(keys.SLACK_ACTIVE, session_id)  # the observer writes the final state
            return 0
        text = format.status_text(session, self.config.session_url(session_id))
        if text == thread.shown or thread.status_ts is None:
            return 0
        await self.poster.update(thread.channel, thread.status_ts, text)
        await self.threads.save(thread.model_copy(update={"shown": text}), active=True)
        return 1
