"""The work queue: a Redis stream read through a consumer group, plus a lease per session.

A worker that dies (kill -9) stops renewing both: its job's idle time in the group grows past the lease
and another worker claims it (XAUTOCLAIM); the session's lease key expires so that worker may run it.
"""

import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from control_plane import keys

log = logging.getLogger(__name__)

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Job:
    entry_id: str
    session_id: str
    reclaimed: bool
    """Taken over from a worker that stopped renewing it."""


class WorkQueue:
    def __init__(self, redis: Redis, *, consumer: str, lease_ttl_s: float) -> None:
        self.redis, self.consumer = redis, consumer
        self.lease_ms = int(lease_ttl_s * 1000)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(keys.QUEUE, keys.QUEUE_GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise  # the group already existing is the only error that is fine here

    async def next_job(self, *, block_ms: int) -> Job | None:
        """A job whose worker died, else a new one (waiting up to block_ms)."""
        try:
            return await self._next_job(block_ms)
        except ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
            # Redis came back without its data (no append-only file, or a wiped one): the jobs are gone with the
            # group; make the group again so the sessions created from now on are run.
            log.warning("the work queue's consumer group was gone (Redis lost its data?); created it again")
            await self.ensure_group()
            return None

    async def _next_job(self, block_ms: int) -> Job | None:
        _, claimed, _ = await self.redis.xautoclaim(
            keys.QUEUE, keys.QUEUE_GROUP, self.consumer, min_idle_time=self.lease_ms, start_id="0-0", count=1
        )
        if claimed:
            entry_id, fields = claimed[0]
            return Job(entry_id, fields["session"], reclaimed=True)
        reply = await self.redis.xreadgroup(keys.QUEUE_GROUP, self.consumer, {keys.QUEUE: ">"}, count=1, block=block_ms)
        for _, rows in reply:
            for entry_id, fields in rows:
                return Job(entry_id, fields["session"], reclaimed=False)
        return None

    async def keep(self, job: Job) -> None:
        """Reset the job's idle time so nobody reclaims it while we work on it."""
        await self.redis.xclaim(keys.QUEUE, keys.QUEUE_GROUP, self.consumer, 0, [job.entry_id], justid=True)

    async def done(self, job: Job) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.QUEUE, keys.QUEUE_GROUP, job.entry_id)
            pipe.xdel(keys.QUEUE, job.entry_id)
            await pipe.execute()

    async def requeue(self, job: Job) -> None:
        """Hand a job back for another worker to take at once (a graceful stop), instead of after the lease."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.QUEUE, keys.QUEUE_GROUP, job.entry_id)
            pipe.xdel(keys.QUEUE, job.entry_id)
            pipe.xadd(keys.QUEUE, {"session": job.session_id})
            await pipe.execute()

    async def depth(self) -> int:
        length: int = await self.redis.xlen(keys.QUEUE)
        return length

    async def acquire(self, session_id: str) -> bool:
        return bool(await self.redis.set(keys.lease(session_id), self.consumer, nx=True, px=self.lease_ms))

    async def renew(self, session_id: str) -> bool:
        return bool(await self._renew(keys=[keys.lease(session_id)], args=[self.consumer, self.lease_ms]))

    async def release(self, session_id: str) -> None:
        await self._release(keys=[keys.lease(session_id)], args=[self.consumer])
