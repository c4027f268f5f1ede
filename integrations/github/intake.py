"""Accepted webhook deliveries, between the HTTP endpoint and the handler: a Redis stream read through a consumer
group, so the endpoint answers GitHub at once and a delivery survives the process that accepted it.

accept():  de-duplicate (delivery id, and the comment or PR change it carries) and queue, in one Lua script.
Consumer:  integrations/streams.py: take a delivery (or reclaim one a dead process left), handle it, acknowledge
           it; a failing one is retried after reclaim_after_s, and dropped (logged) after max_attempts.
"""

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from control_plane import keys
from integrations.github.models import CommentEvent, Delivery, InstallationEvent, PushEvent
from integrations.streams import StreamConsumer, StreamKeys

STREAM = StreamKeys(stream=keys.GITHUB_DELIVERIES, group=keys.GITHUB_GROUP, attempts=keys.GITHUB_ATTEMPTS)

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
    if isinstance(e, InstallationEvent):
        return [keys.github_seen(f"delivery:{delivery.id}")]  # forgetting what is cached twice does no harm
    if isinstance(e, CommentEvent):
        what = f"comment:{e.via}:{e.repo.full_name}:{e.comment_id}"
    elif isinstance(e, PushEvent):
        what = f"push:{e.repo.full_name}:{e.ref}:{e.after}"
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


class DeliveryConsumer(StreamConsumer):
    """The shared stream consumer, reading GitHub's stream and handing the handler typed deliveries."""

    def __init__(
        self,
        redis: Redis,
        handle: Callable[[Delivery], Awaitable[None]],
        *,
        reclaim_after_s: float,
        max_attempts: int,
        name: str | None = None,
    ) -> None:
        async def decoded(raw: str) -> None:
            await handle(Delivery.model_validate_json(raw))

        super().__init__(redis, STREAM, decoded, reclaim_after_s=reclaim_after_s, max_attempts=max_attempts, name=name)
