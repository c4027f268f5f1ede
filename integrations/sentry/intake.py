"""Accepted Sentry deliveries: de-duplicated by Request-ID and by Sentry event, and queued in one Lua script; read by
a StreamConsumer."""

from redis.asyncio import Redis

from control_plane import keys
from integrations.sentry.models import Delivery
from integrations.streams import StreamKeys

STREAM = StreamKeys(stream=keys.SENTRY_ALERTS, group=keys.SENTRY_GROUP, attempts=keys.SENTRY_ATTEMPTS)

# KEYS: stream, then the "seen" keys. ARGV: ttl seconds, delivery json. 1: queued, 0: seen before.
_ACCEPT = """
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 2, #KEYS do redis.call('SET', KEYS[i], '1', 'EX', ARGV[1]) end
redis.call('XADD', KEYS[1], '*', 'd', ARGV[2])
return 1
"""


class AlertQueue:
    def __init__(self, redis: Redis) -> None:
        self._accept = redis.register_script(_ACCEPT)

    async def accept(self, delivery: Delivery) -> bool:
        """Queue the delivery unless its Request-ID or its Sentry event was seen; True when queued. A new event of
        the same issue is queued: the handler turns it into a note for the issue's session."""
        event_id = delivery.alert.event_id
        seen = [keys.sentry_seen(delivery.request_id), *([keys.sentry_seen(f"event:{event_id}")] if event_id else [])]
        queued = await self._accept(
            keys=[keys.SENTRY_ALERTS, *seen],
            args=[keys.SENTRY_SEEN_TTL_S, delivery.model_dump_json()],
        )
        return bool(queued)
