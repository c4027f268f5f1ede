"""Signed webhook deliveries at a steady rate against one API process on loopback: acknowledgement latency and errors.

    .venv/bin/python bench/load_webhooks.py [--rates 50 150 300] [--seconds 60] [--drain-s 30]

For each rate: a fresh redis-server and a fresh server process like `nightshift serve` without a worker
(Runtime.api() under uvicorn: the generic webhook endpoint, its intake consumer, the rest of the API); this process
sends signed deliveries to POST /webhooks/generic/load (HMAC-SHA256, a distinct delivery id and origin each, so each
one queues a session) on an open-loop schedule: delivery i leaves at start + i / rate whatever the earlier ones did.
Latency runs from the scheduled time to the answer, so a stalled server is not hidden by a stalled sender. Sessions
queued: sessions the intake consumer (in the same server process) has created and queued for workers, at the end of
the window and after up to --drain-s more seconds. The sender shares the machine with the server.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import uvicorn
from _support import make_remote, percentile, redis_server, settings, wait_healthy
from redis.asyncio import Redis

from control_plane import keys
from control_plane.runtime import Runtime
from integrations.signatures import hex_digest

SECRET = "load-hook-secret-" + "5" * 16


def serve(port: int, redis_url: str, root: str, repo: str) -> None:
    hook = {"secret": SECRET, "repo": repo, "prompt": "Alert {{ payload.title }}", "origin": "payload.id"}

    async def main() -> None:
        s = settings(Path(root), redis_url, "http://127.0.0.1:9", webhooks={"load": hook})
        async with Runtime.open(s) as rt:
            server = uvicorn.Server(
                uvicorn.Config(rt.api(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
            )
            await server.serve()

    asyncio.run(main())


async def send(http: aiohttp.ClientSession, url: str, i: int, due: float) -> tuple[float, int]:
    """One delivery, sent at `due`: (seconds from due to the answer, HTTP status or 0 for a transport error)."""
    await asyncio.sleep(max(0.0, due - time.monotonic()))
    body = json.dumps({"title": f"alert {i}", "id": f"incident-{i}"}).encode()
    headers = {
        "content-type": "application/json",
        "x-nightshift-signature": "sha256=" + hex_digest(SECRET.encode(), body),
        "x-nightshift-delivery": f"load-{i}",
    }
    try:
        async with http.post(f"{url}/webhooks/generic/load", data=body, headers=headers) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as e:
        print(f"    delivery {i}: {type(e).__name__}: {e}", file=sys.stderr)
        status = 0
    return time.monotonic() - due, status


async def sessions_queued(redis: Redis) -> tuple[int, int]:
    """(sessions created, deliveries still waiting in the intake stream)."""
    return await redis.zcard(keys.SESSIONS), await redis.xlen(keys.WEBHOOK_DELIVERIES)


async def one_rate(rate: int, seconds: float, drain_s: float) -> None:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url:
        root = Path(tmp)
        repo = make_remote(root / "repo", 3)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        server = ctx.Process(target=serve, args=(port, redis_url, str(root), str(repo)), daemon=True)
        server.start()
        redis = Redis.from_url(redis_url, decode_responses=True)
        try:
            await wait_healthy(url)
            # aiohttp, not httpx: at 300/s httpx's pool in this process, not the server, became the bottleneck
            connector = aiohttp.TCPConnector(limit=1000)
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
                start = time.monotonic() + 0.5
                n = int(rate * seconds)
                results = await asyncio.gather(*(send(http, url, i, start + i / rate) for i in range(n)))
            at_end = await sessions_queued(redis)
            deadline = time.monotonic() + drain_s
            while (drained := await sessions_queued(redis))[1] and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        finally:
            await redis.aclose()
            server.terminate()
            server.join(10)
    latencies = [ms * 1000 for ms, status in results if 200 <= status < 300]
    errors = Counter(status for _, status in results if not 200 <= status < 300)
    shown = ", ".join(f"{count} x {status or 'no answer'}" for status, count in sorted(errors.items()))
    print(f"  {rate:4d}/s for {seconds:.0f} s: {n} deliveries, errors {errors.total()} ({shown}), ", end="")
    if latencies:
        print(f"ack p50 {percentile(latencies, 50):7.1f} ms, p99 {percentile(latencies, 99):7.1f} ms, ", end="")
        print(f"max {max(latencies):7.1f} ms")
    windows = [results[i : i + rate * 10] for i in range(0, n, rate * 10)]
    p99s = [percentile([s * 1000 for s, _ in w], 99) for w in windows]
    print(f"        ack p99 per 10 s of the window: {', '.join(f'{p:.0f}' for p in p99s)} ms")
    print(
        f"        sessions queued: {at_end[0]} at the window's end ({at_end[1]} deliveries still in intake), ", end=""
    )
    print(f"{drained[0]} after {drain_s:.0f} s more ({drained[1]} in intake)")


async def main(rates: list[int], seconds: float, drain_s: float) -> None:
    print(f"webhook load, one API process on loopback ({os.cpu_count()} CPUs, sender on the same machine)")
    print(f"  command: python bench/load_webhooks.py --rates {' '.join(map(str, rates))} --seconds {seconds:g}")
    for rate in rates:
        await one_rate(rate, seconds, drain_s)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=int, nargs="+", default=[50, 150, 300])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--drain-s", type=float, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.rates, args.seconds, args.drain_s))
