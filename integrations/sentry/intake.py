"""Accepted Sentry deliveries: de-duplicated by Request-ID and queued in one Lua script; read by a StreamConsumer."""

from redis.asyncio import Redis

from control_plane import keys
from integrations.sentry.models import Delivery
from integrations.streams import StreamKeys

STREAM = StreamKeys(stream=keys.SENTRY_ALERTS, group=keys.SENTRY_GROUP, attempts=keys.SENTRY_ATTEMPTS)

# KEYS: seen key, stream. ARGV: ttl seconds, delivery json. 1: queued, 0: seen before.
_ACCEPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
  return 1
end
return 0
"""


class AlertQueue:
    def __init__(self, redis: Redis) -> None:
        self._accept = redis.register_script(_ACCEPT)

    async def accept(self, delivery: Delivery) -> bool:
        """Queue the delivery unless its Request-ID was seen; True when queued. The same issue under new ids is
        queued: the handler turns it into a note for the issue's session."""
        queued = await self._accept(
            keys=[keys.sentry_seen(delivery.request_id), keys.SENTRY_ALERTS],
            args=[keys.SENTRY_SEEN_TTL_S, delivery.model_dump_json()],
        )
        return bool(queued)
