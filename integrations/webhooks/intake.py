"""Accepted generic deliveries: de-duplicated (delivery id, else the body's hash) and queued in one Lua script."""

from redis.asyncio import Redis

from control_plane import keys
from integrations.streams import StreamKeys
from integrations.webhooks.models import HookDelivery

STREAM = StreamKeys(stream=keys.WEBHOOK_DELIVERIES, group=keys.WEBHOOK_GROUP, attempts=keys.WEBHOOK_ATTEMPTS)

# KEYS: seen key, stream. ARGV: ttl seconds, delivery json. 1: queued, 0: seen before.
_ACCEPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
  return 1
end
return 0
"""


class HookQueue:
    def __init__(self, redis: Redis) -> None:
        self._accept = redis.register_script(_ACCEPT)

    async def accept(self, delivery: HookDelivery) -> bool:
        queued = await self._accept(
            keys=[keys.webhook_seen(delivery.hook, delivery.delivery_id), keys.WEBHOOK_DELIVERIES],
            args=[keys.WEBHOOK_SEEN_TTL_S, delivery.model_dump_json()],
        )
        return bool(queued)
