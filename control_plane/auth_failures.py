"""Wrong API tokens and failed sign-ins, counted per client address in Redis (so every API process shares the count).

After `limit` failures within `window_s` the client is refused with 429 and Retry-After until the window ends —
with a right token too: were a right token let through, the refusals would tell a wrong guess from a right one and
the guessing would go on at full speed. Per address, never per account: failures from one place lock out nobody
else. Successes are never counted. An IPv6 client counts as its /64, which one attacker usually holds whole.
"""

import ipaddress
import logging

from fastapi import Request
from redis.asyncio import Redis

from control_plane import keys

log = logging.getLogger(__name__)


def client_of(request: Request) -> str:
    """The peer address (uvicorn puts a trusted proxy's X-Forwarded-For there: FORWARDED_ALLOW_IPS)."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:192.0.2.1 from a dual-stack listener is that IPv4 client
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class AuthFailures:
    def __init__(self, redis: Redis, *, limit: int, window_s: int) -> None:
        self.redis, self.limit, self.window_s = redis, limit, window_s

    async def retry_after(self, client: str) -> int | None:
        """Seconds until this client may try again; None when it is not refused."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.auth_failures(client))
            pipe.ttl(keys.auth_failures(client))
            count, ttl = await pipe.execute()
        return max(int(ttl), 1) if count is not None and int(count) >= self.limit else None

    async def failed(self, client: str, what: str) -> None:
        """Count one failure; the one that reaches the limit is logged (not every one after: no log flood)."""
        key = keys.auth_failures(client)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=self.window_s, nx=True)  # the window starts at the first failure
            pipe.incr(key)
            _, count = await pipe.execute()
        if count == self.limit:
            log.warning(
                "%d failed authentications (last: %s) from %s within %d s: refusing it (429) until the window ends",
                count,
                what,
                client,
                self.window_s,
            )
