"""What the Redis-kept metrics cost: one /metrics scrape as the number of sessions grows, and one recorded
observation (a tool call's histogram update) against a bare Redis round trip.

    .venv/bin/python bench/metrics_scrape.py [--sessions 0 1000 10000] [--scrapes 20] [--observations 2000]

The scrape reads every session's status and source (a pipelined HMGET per 1000 ids), the metrics hash and the queue,
then renders the text format, as GET /metrics does. Ratios are against the first --sessions figure, measured in the
same run; the observation is against PING on the same connection.
"""

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import redis_server

from control_plane.metrics import TOOL_SECONDS, Metrics
from control_plane.metrics_endpoint import read_snapshot, render
from control_plane.models import Session
from control_plane.store import SessionStore
from harness.events import UserMessage


async def add_sessions(store: SessionStore, n: int) -> None:
    statuses = ["finished", "failed", "running", "queued"]
    for i in range(n):
        sid = uuid.uuid4().hex[:12]
        session = Session(
            id=sid, repo="acme/app", base=None, branch=f"b-{sid}", title="t", source="cli", requested_by="ana",
            status=statuses[i % 4], created_at=time.time(), updated_at=time.time(),
        )  # fmt: skip
        await store.create(session, [], UserMessage(text="x", author="ana"))


async def scrape_ms(redis: Redis, scrapes: int) -> float:
    took = []
    for _ in range(scrapes):
        began = time.perf_counter()
        render(await read_snapshot(redis, time.time()))
        took.append((time.perf_counter() - began) * 1000)
    return statistics.median(took)


async def per_call_us(n: int, call: Callable[[], Awaitable[object]]) -> float:
    began = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - began) / n * 1e6


async def main(args: argparse.Namespace) -> None:
    with redis_server() as url:
        redis = Redis.from_url(url, decode_responses=True)
        store, metrics = SessionStore(redis), Metrics(redis)
        ping = await per_call_us(args.observations, redis.ping)
        observe = await per_call_us(args.observations, lambda: metrics.observe(TOOL_SECONDS, {"tool": "shell"}, 0.3))
        print(f"record one tool call: {observe:.0f} us vs PING {ping:.0f} us ({observe / ping:.1f}x)")
        have, baseline = 0, None
        for n in args.sessions:
            await add_sessions(store, n - have)
            have = n
            ms = await scrape_ms(redis, args.scrapes)
            baseline = baseline or ms
            print(f"/metrics with {n:>6} sessions: {ms:8.1f} ms median of {args.scrapes} ({ms / baseline:.1f}x)")
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, nargs="+", default=[0, 1000, 10000])
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--observations", type=int, default=2000)
    asyncio.run(main(parser.parse_args()))
