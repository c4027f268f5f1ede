"""Accepted webhook deliveries, between the HTTP endpoint and the handler: a Redis stream read through a consumer
group, so the endpoint answers GitHub at once and a delivery survives the process that accepted it.

accept():  de-duplicate (delivery id, and the comment or PR change it carries) and queue, in one Lua script.
Consumer:  take a delivery (or reclaim one a dead process left), handle it, acknowledge it; a failing one is
           retried after reclaim_after_s, and dropped (logged) after max_attempts.
"""

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from control_plane import keys
from integrations.github.models import CommentEvent, Delivery

log = logging.getLogger(__name__)

# KEYS: stream, then the "seen" keys. ARGV: ttl seconds, delivery json. 1: queued, 0: seen before.
_ACCEPT = """
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 2, #KEYS do redis.call('SET', KEYS[i], '1', 'EX', ARGV[1]) end
redis.call('XADD', KEYS[1], '*', 'd', ARGV[2])
return 1
"""


def seen_keys(delivery: Delivery) -> list[str]:
    """A delivery is known by its id, and by what it carries: a replay of the same body under a new delivery id
    (the id header is not signed) is still the same comment, or the same change of the same PR at the same time."""
    e = delivery.event
    if isinstance(e, CommentEvent):
        what = f"comment:{e.via}:{e.repo.full_name}:{e.comment_id}"
    else:
        # The head too: two pushes within one second carry the same updated_at.
        what = f"pr:{e.repo.full_name}#{e.number}:{e.action}:{e.head_sha}:{e.requested_reviewer}:{e.at}"
    return [keys.github_seen(f"delivery:{delivery.id}"), keys.github_seen(what)]


class DeliveryQueue:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._accept = redis.register_script(_ACCEPT)

    async def accept(self, delivery: Delivery) -> bool:
        """Queue the delivery unless it was seen before; True when queued."""
        queued = await self._accept(
            keys=[keys.GITHUB_DELIVERIES, *seen_keys(delivery)],
            args=[keys.GITHUB_SEEN_TTL_S, delivery.model_dump_json()],
        )
        return bool(queued)

    async def depth(self) -> int:
        length: int = await self.redis.xlen(keys.GITHUB_DELIVERIES)
        return length


class DeliveryConsumer:
    def __init__(
        self,
        redis: Redis,
        handle: Callable[[Delivery], Awaitable[None]],
        *,
        reclaim_after_s: float,
        max_attempts: int,
        name: str | None = None,
    ) -> None:
        self.redis, self.handle = redis, handle
        self.reclaim_after_ms = int(reclaim_after_s * 1000)
        self.max_attempts = max_attempts
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stopping = asyncio.Event()

    async def run(self, *, block_ms: int = 1000) -> None:
        """Handle deliveries until stop(). Stopping waits for the delivery in hand: cancelling a task in the middle
        of a blocking Redis read can hang redis-py's asyncio client, so nothing here is cancelled."""
        self._stopping.clear()
        await self.ensure_group()
        while not self._stopping.is_set():
            try:
                await self.step(block_ms=block_ms)
            except RedisConnectionError:
                log.exception("GitHub deliveries: Redis unreachable; retrying in a second")
                await asyncio.sleep(1)

    def stop(self) -> None:
        self._stopping.set()

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(keys.GITHUB_DELIVERIES, keys.GITHUB_GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise  # the group already existing is the only error that is fine here

    async def step(self, *, block_ms: int) -> bool:
        """Handle one delivery, if one comes within block_ms; True when one was taken."""
        taken = await self._next(block_ms)
        if taken is None:
            return False
        entry_id, raw = taken
        attempt = await self.redis.hincrby(keys.GITHUB_ATTEMPTS, entry_id, 1)
        delivery = Delivery.model_validate_json(raw)
        try:
            await self.handle(delivery)
        except Exception:
            # The loop must outlive any one delivery: the failure is logged with its traceback, and the delivery
            # is retried (left pending, reclaimed after reclaim_after_s) until max_attempts.
            log.exception("GitHub delivery %s (%s), attempt %d, failed", delivery.id, delivery.name, attempt)
            if attempt < self.max_attempts:
                return True
            log.error("GitHub delivery %s dropped after %d attempts", delivery.id, attempt)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.GITHUB_DELIVERIES, keys.GITHUB_GROUP, entry_id)
            pipe.xdel(keys.GITHUB_DELIVERIES, entry_id)
            pipe.hdel(keys.GITHUB_ATTEMPTS, entry_id)
            await pipe.execute()
        return True

    async def _next(self, block_ms: int) -> tuple[str, str] | None:
        _, claimed, _ = await self.redis.xautoclaim(
            keys.GITHUB_DELIVERIES,
            keys.GITHUB_GROUP,
            self.name,
            min_idle_time=self.reclaim_after_ms,
            start_id="0-0",
            count=1,
        )
        if claimed:
            entry_id, fields = claimed[0]
            return entry_id, fields["d"]
        reply = await self.redis.xreadgroup(
            keys.GITHUB_GROUP, self.name, {keys.GITHUB_DELIVERIES: ">"}, count=1, block=block_ms
        )
        for _, rows in reply:
            for entry_id, fields in rows:
                return entry_id, fields["d"]
        return None

    async def drain(self, *, idle_ms: int = 200) -> int:
        """Handle deliveries until none comes for idle_ms; returns how many were handled (tests, one-shot tools)."""
        await self.ensure_group()
        handled = 0
        while await self.step(block_ms=idle_ms):
            handled += 1
        return handled
