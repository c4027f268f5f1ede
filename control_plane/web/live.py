"""Live fan-out: one Redis read loop per watched session per process, shared by every viewer of that session.

Each event is read from Redis and rendered to HTML once, however many people watch; a viewer costs a queue,
not a Redis connection. A viewer too slow to keep up (its queue full) is dropped; its browser reconnects with
Last-Event-ID and catches up from the log, so dropping loses nothing.

The seam between a viewer's catch-up and the shared loop: a viewer subscribes first and reads the log after
its cursor second. A loop starts from the log's newest id at the moment it is created, before its first
viewer's catch-up read, so every event is either in that read or delivered by the loop (or both, and the
viewer skips ids at or before its cursor).
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from control_plane import keys
from control_plane.models import Session
from control_plane.store import SessionStore
from control_plane.web import sse
from harness.events import LoggedEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveEvent:
    id: str
    wire: bytes
    """The event as one server-sent event, encoded once for every viewer."""


@dataclass(frozen=True)
class LiveBatch:
    events: list[LiveEvent]
    summary: bytes
    """The session's status, cost and counts right after these events, as a server-sent event."""


@dataclass(eq=False)
class Feed:
    """One viewer's subscription to a session's loop."""

    queue: asyncio.Queue[LiveBatch | None] = field(default_factory=lambda: asyncio.Queue(maxsize=256))
    closed: bool = False

    async def get(self, timeout_s: float) -> LiveBatch | None:
        """The next batch; an empty batch after a quiet interval; None once this viewer was dropped."""
        if self.closed:
            return None
        try:
            return await asyncio.wait_for(self.queue.get(), timeout_s)
        except TimeoutError:
            return LiveBatch([], b"")

    def offer(self, batch: LiveBatch) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.close()  # too slow to keep up: the browser reconnects and catches up from the log

    def close(self) -> None:
        """End this viewer's stream now. What it had queued is dropped: its browser resumes after the last event it
        was actually sent (Last-Event-ID), so the log gives it all again, and a slow viewer gets no slower."""
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)  # wakes a viewer waiting on the queue


class _Tail:
    def __init__(self, session_id: str, cursor: str) -> None:
        self.session_id, self.cursor = session_id, cursor
        self.feeds: set[Feed] = set()
        self.task: asyncio.Task[None] | None = None


class LiveHub:
    def __init__(
        self,
        store: SessionStore,
        render: Callable[[str, LoggedEvent], str],
        summarize: Callable[[Session], str],
        *,
        block_ms: int = 3_000,
        max_catch_ups: int = 32,
    ) -> None:
        self.store, self.render, self.summarize, self.block_ms = store, render, summarize, block_ms
        self._tails: dict[str, _Tail] = {}
        self._starting = asyncio.Lock()
        # Hundreds of viewers arriving at once (a link posted in a busy channel) would each take a Redis connection
        # for their catch-up read; the client's pool is bounded (redis-py: 100) and fails rather than waits.
        self._catch_ups = asyncio.Semaphore(max_catch_ups)

    @asynccontextmanager
    async def catching_up(self) -> AsyncIterator[None]:
        """Hold while reading a viewer's history: bounds the Redis connections joining viewers use at once."""
        async with self._catch_ups:
            yield

    @asynccontextmanager
    async def watch(self, session_id: str) -> AsyncIterator[Feed]:
        feed = Feed()
        tail = await self._tail(session_id)
        tail.feeds.add(feed)
        try:
            yield feed
        finally:
            tail.feeds.discard(feed)
            if not tail.feeds and self._tails.get(session_id) is tail:
                del self._tails[session_id]
                assert tail.task is not None
                tail.task.cancel()

    def watched(self) -> int:
        """Sessions with a loop running in this process (for tests and the bench)."""
        return len(self._tails)

    async def _tail(self, session_id: str) -> _Tail:
        async with self._starting:  # two first viewers arriving together must share one loop
            tail = self._tails.get(session_id)
            if tail is None:
                newest = await self.store.redis.xrevrange(keys.events(session_id), count=1)
                tail = _Tail(session_id, newest[0][0] if newest else "0-0")
                tail.task = asyncio.create_task(self._follow(tail), name=f"live {session_id}")
                tail.task.add_done_callback(_report_crash)
                self._tails[session_id] = tail
            return tail

    async def _follow(self, tail: _Tail) -> None:
        try:
            while True:
                items = await self.store.wait_events(tail.session_id, after=tail.cursor, block_ms=self.block_ms)
                if not items:
                    continue
                tail.cursor = items[-1].id
                events = [LiveEvent(i.id, sse.event(self.render(tail.session_id, i), i.id)) for i in items]
                # Usage totals are written just after a model turn is logged; a later batch carries them.
                summary = sse.summary(self.summarize(await self.store.get(tail.session_id)))
                batch = LiveBatch(events, summary)
                for feed in list(tail.feeds):
                    feed.offer(batch)
        finally:
            # However the loop ends, its viewers must not wait on it: they end, and their browsers reconnect.
            if self._tails.get(tail.session_id) is tail:
                del self._tails[tail.session_id]
            for feed in tail.feeds:
                feed.close()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("live loop %s stopped", task.get_name(), exc_info=task.exception())
