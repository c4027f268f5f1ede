"""A Redis stream read through a consumer group, shared by the webhook intakes that queue work for later.

Take an entry (or reclaim one a dead process left after reclaim_after_s), handle it, acknowledge and delete it. A
failing entry is retried until max_attempts, then dropped (logged). A handler that raises Deferred leaves the entry
pending without spending an attempt: it is taken again after reclaim_after_s (used to wait for room under a limit).
"""

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)


class Deferred(Exception):
    """Raised by a handler: not now; keep the entry and offer it again later."""


@dataclass(frozen=True)
class StreamKeys:
    stream: str
    group: str
    attempts: str
    """Hash: entry id -> times handled."""


class StreamConsumer:
    def __init__(
        self,
        redis: Redis,
        stream: StreamKeys,
        handle: Callable[[str], Awaitable[None]],
        *,
        reclaim_after_s: float,
        max_attempts: int,
        name: str | None = None,
    ) -> None:
        self.redis, self.keys, self.handle = redis, stream, handle
        self.reclaim_after_ms = int(reclaim_after_s * 1000)
        self.max_attempts = max_attempts
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stopping = asyncio.Event()

    async def run(self, *, block_ms: int = 1000) -> None:
        """Handle entries until stop(). Stopping waits for the entry in hand: cancelling a task in the middle of a
        blocking Redis read can hang redis-py's asyncio client, so nothing here is cancelled."""
        self._stopping.clear()
        await self.ensure_group()
        while not self._stopping.is_set():
            try:
                await self.step(block_ms=block_ms)
            except RedisConnectionError:
                log.exception("%s: Redis unreachable; retrying in a second", self.keys.stream)
                await asyncio.sleep(1)

    def stop(self) -> None:
        self._stopping.set()

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.keys.stream, self.keys.group, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise  # the group already existing is the only error that is fine here

    async def step(self, *, block_ms: int) -> bool:
        """Handle one entry, if one comes within block_ms; True when one was taken."""
        taken = await self._next(block_ms)
        if taken is None:
            return False
        entry_id, raw = taken
        attempt = await self.redis.hincrby(self.keys.attempts, entry_id, 1)
        try:
            await self.handle(raw)
        except Deferred:
            await self.redis.hincrby(self.keys.attempts, entry_id, -1)
            return True
        except Exception:
            # The loop must outlive any one entry: the failure is logged with its traceback, and the entry is
            # retried (left pending, reclaimed after reclaim_after_s) until max_attempts.
            log.exception("%s entry %s, attempt %d, failed", self.keys.stream, entry_id, attempt)
            if attempt < self.max_attempts:
                return True
            log.error("%s entry %s dropped after %d attempts", self.keys.stream, entry_id, attempt)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.keys.stream, self.keys.group, entry_id)
            pipe.xdel(self.keys.stream, entry_id)
            pipe.hdel(self.keys.attempts, entry_id)
            await pipe.execute()
        return True

    async def _next(self, block_ms: int) -> tuple[str, str] | None:
        try:
            return await self._take(block_ms)
        except ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
            # Redis came back without its data: what was queued is gone with the group; make it again for what comes.
            log.warning("%s: the consumer group was gone (Redis lost its data?); created it again", self.keys.stream)
            await self.ensure_group()
            return None

    async def _take(self, block_ms: int) -> tuple[str, str] | None:
        _, claimed, _ = await self.redis.xautoclaim(
            self.keys.stream, self.keys.group, self.name, min_idle_time=self.reclaim_after_ms, start_id="0-0", count=1
        )
        if claimed:
            entry_id, fields = claimed[0]
            return entry_id, fields["d"]
        reply = await self.redis.xreadgroup(
            self.keys.group, self.name, {self.keys.stream: ">"}, count=1, block=block_ms
        )
        for _, rows in reply:
            for entry_id, fields in rows:
                return entry_id, fields["d"]
        return None

    async def drain(self, *, idle_ms: int = 200) -> int:
        """Handle entries until none comes for idle_ms; returns how many were taken (tests, one-shot tools)."""
        await self.ensure_group()
        handled = 0
        while await self.step(block_ms=idle_ms):
            handled += 1
        return handled
