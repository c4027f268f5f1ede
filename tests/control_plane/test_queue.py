import asyncio

from redis.asyncio import Redis

from control_plane import keys
from control_plane.queue import WorkQueue


async def test_jobs_are_shared_and_a_dead_workers_job_is_reclaimed(redis: Redis) -> None:
    a = WorkQueue(redis, consumer="a", lease_ttl_s=0.3)
    b = WorkQueue(redis, consumer="b", lease_ttl_s=0.3)
    await a.ensure_group()
    await b.ensure_group()  # a second call is fine
    await redis.xadd(keys.QUEUE, {"session": "s1"})
    job = await a.next_job(block_ms=100)
    assert job is not None and (job.session_id, job.reclaimed) == ("s1", False)
    assert await b.next_job(block_ms=50) is None  # a holds it
    await asyncio.sleep(0.4)  # a "dies": no keep() for longer than the lease
    taken = await b.next_job(block_ms=50)
    assert taken is not None and (taken.session_id, taken.reclaimed) == ("s1", True)
    await b.done(taken)
    assert await redis.xlen(keys.QUEUE) == 0


async def test_keep_prevents_reclaim(redis: Redis) -> None:
    a = WorkQueue(redis, consumer="a", lease_ttl_s=0.3)
    b = WorkQueue(redis, consumer="b", lease_ttl_s=0.3)
    await a.ensure_group()
    await redis.xadd(keys.QUEUE, {"session": "s1"})
    job = await a.next_job(block_ms=100)
    assert job is not None
    for _ in range(4):
        await asyncio.sleep(0.15)
        await a.keep(job)
    assert await b.next_job(block_ms=20) is None


async def test_session_lease_is_exclusive_and_renewable(redis: Redis) -> None:
    a = WorkQueue(redis, consumer="a", lease_ttl_s=0.3)
    b = WorkQueue(redis, consumer="b", lease_ttl_s=0.3)
    assert await a.acquire("s1")
    assert not await b.acquire("s1")
    assert await a.renew("s1")
    assert not await b.renew("s1")
    await b.release("s1")  # not b's: no effect
    assert not await b.acquire("s1")
    await a.release("s1")
    assert await b.acquire("s1")
