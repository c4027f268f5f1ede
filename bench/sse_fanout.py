"""Live fan-out: N people watching one busy session in the web UI, over real SSE on loopback.

    .venv/bin/python bench/sse_fanout.py [--viewers 10 100 500] [--events 200] [--rate 25] [--clients 4]

For each N: a server process like `nightshift serve` (the API with the web UI mounted, via Runtime.api(); no worker,
so nothing but this bench writes to the session) on a private redis-server; N viewers signed in with the web UI's
cookie, each holding the session's live stream (`/sessions/<id>/live`), spread over --clients processes; then this
process appends --events events (tool results with 2 KB of output, and notes) at --rate per second straight to the
session's log. Reported, over the events:

- all-viewers delay: from just before the append to the moment the LAST viewer had the event;
- per-viewer delay: from the append to each viewer having it (every viewer x event pair).

Clocks: time.monotonic() is the system-wide CLOCK_MONOTONIC on Linux, so the appending process and the viewer
processes read the same clock. The viewers' processes share the machine with the server: on a small machine part of
the delay is the viewers' own parsing, so the figures are an upper bound for the server.
"""

import argparse
import asyncio
import multiprocessing
import os
import re
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from _support import percentile, redis_server, settings, wait_healthy
from pydantic import SecretStr
from redis.asyncio import Redis

from control_plane.models import Session
from control_plane.runtime import Runtime
from control_plane.store import SessionStore
from harness.events import Note, SessionCreated, StatusChanged, ToolResult, UserMessage

TOKEN = "bench-token-" + "0" * 24
END = "bench: that was the last event"


# --- the server process ---


def serve(port: int, redis_url: str, root: str) -> None:
    async def main() -> None:
        s = settings(Path(root), redis_url, "http://127.0.0.1:9", api_token=SecretStr(TOKEN))
        async with Runtime.open(s) as rt:
            server = uvicorn.Server(uvicorn.Config(rt.api(), host="127.0.0.1", port=port, log_level="warning"))
            await server.serve()

    asyncio.run(main())


async def sign_in(url: str) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        form = (await client.get("/login")).text
        csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        r = await client.post("/login", data={"csrf": csrf, "name": "bench", "token": TOKEN})
        assert r.status_code == 303, r.text
        return r.cookies["ns_web"]


# --- the viewers' processes ---


EVENT_ID = re.compile(rb"\nid: (\d+-\d+)\n")


def viewers(url: str, path: str, cookie: str, n: int, ready: Connection, results: Connection) -> None:
    """`n` viewers in this process; reports when all are following, then each event's receipt times.

    A viewer is a raw HTTP/1.1 connection that only looks for `id:` lines in what arrives: parsing every line of
    every event in Python, for hundreds of viewers on a small machine, would measure the viewers, not the server.
    """
    received: dict[str, list[float]] = {}
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: ns_web={cookie}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()

    async def one(following: list[int], all_following: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        carry, summarised = b"", False
        while True:
            chunk = await reader.read(1 << 16)
            now = time.monotonic()
            assert chunk, "the server closed a stream before the last event"
            data = carry + chunk
            for match in EVENT_ID.finditer(data):
                received.setdefault(match.group(1).decode(), []).append(now)
            carry = data[data.rfind(b"\n") :]  # a line cut by the read stays for the next one
            if not summarised and b"event: summary" in data:
                summarised, following[0] = True, following[0] + 1
                if following[0] == n:
                    all_following.set()
            if END.encode() in data:
                writer.close()
                return

    async def main() -> None:
        following, all_following = [0], asyncio.Event()
        tasks = [asyncio.create_task(one(following, all_following)) for _ in range(n)]
        await all_following.wait()  # every viewer caught up with the history and is following live
        ready.send(True)
        await asyncio.gather(*tasks)
        results.send(received)

    asyncio.run(main())


# --- the bench ---


async def busy_session(redis: Redis) -> str:
    store = SessionStore(redis)
    now, sid = time.time(), uuid.uuid4().hex[:12]
    session = Session(
        id=sid,
        repo="/bench/repo.git",
        base=None,
        branch=f"nightshift/bench-{sid}",
        title="a busy session",
        source="web",
        requested_by="bench",
        status="running",
        created_at=now,
        updated_at=now,
    )
    first = [SessionCreated(repo=session.repo, base=None, branch=session.branch, source="web", requested_by="bench")]
    await store.create(session, [*first, StatusChanged(status="running")], UserMessage(text="go", author="bench"))
    return sid


async def append_events(redis: Redis, sid: str, count: int, rate: float) -> dict[str, float]:
    store, sent = SessionStore(redis), {}
    output = ("exit code 0\n" + "collected 12 items; tests/test_calc.py ........ [100%]\n" * 40)[:2000]
    for i in range(count):
        event = (
            ToolResult(tool_use_id=f"t{i}", name="shell", output=output, duration_ms=120)
            if i % 2
            else Note(text=f"step {i}")
        )
        started = time.monotonic()
        sent[await store.append(sid, event)] = started
        await asyncio.sleep(1 / rate)
    await store.append(sid, Note(text=END))
    return sent


async def run(n: int, events: int, rate: float, clients: int, redis_url: str, root: Path) -> dict[str, float]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.flushall()
    sid = await busy_session(redis)
    port = 20000 + os.getpid() % 20000
    url = f"http://127.0.0.1:{port}"
    ctx = multiprocessing.get_context("spawn")
    server = ctx.Process(target=serve, args=(port, redis_url, str(root)), daemon=True)
    server.start()
    try:
        await wait_healthy(url)
        cookie = await sign_in(url)
        sizes = [n // clients + (1 if i < n % clients else 0) for i in range(min(clients, n))]
        pipes = [(ctx.Pipe(duplex=False), ctx.Pipe(duplex=False)) for _ in sizes]
        procs = [
            ctx.Process(target=viewers, args=(url, f"/sessions/{sid}/live", cookie, size, ready[1], results[1]))
            for size, (ready, results) in zip(sizes, pipes, strict=True)
        ]
        for p in procs:
            p.start()
        for (ready, _), _p in zip(pipes, procs, strict=True):
            await asyncio.to_thread(ready[0].recv)
        sent = await append_events(redis, sid, events, rate)
        got: list[dict[str, list[float]]] = [await asyncio.to_thread(results[0].recv) for _, results in pipes]
        for p in procs:
            p.join(30)
    finally:
        server.terminate()
        server.join(10)
        await redis.aclose()
    return summarize(sent, got, n)


def summarize(sent: dict[str, float], got: list[dict[str, list[float]]], n: int) -> dict[str, float]:
    every, per_viewer, missing = [], [], 0
    for event_id, at in sent.items():
        times = [t for part in got for t in part.get(event_id, [])]
        missing += n - len(times)
        if times:
            every.append(max(times) - at)
            per_viewer += [t - at for t in times]
    return {
        "all_p50_ms": percentile(every, 50) * 1000,
        "all_p99_ms": percentile(every, 99) * 1000,
        "one_p50_ms": percentile(per_viewer, 50) * 1000,
        "one_p99_ms": percentile(per_viewer, 99) * 1000,
        "missing": missing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=25.0, help="events per second")
    parser.add_argument("--clients", type=int, default=4, help="processes the viewers are spread over")
    args = parser.parse_args()
    print("command:", " ".join([os.path.relpath(sys.executable), *sys.argv]))
    print(f"machine: {os.cpu_count()} CPUs; {args.events} events at {args.rate:g}/s, 2 KB tool output every other one")
    print(f"{'viewers':>8} {'all p50':>10} {'all p99':>10} {'one p50':>10} {'one p99':>10} {'missing':>8}")
    with redis_server() as redis_url, tempfile.TemporaryDirectory() as tmp:
        for n in args.viewers:
            r = asyncio.run(run(n, args.events, args.rate, args.clients, redis_url, Path(tmp) / str(n)))
            print(
                f"{n:>8} {r['all_p50_ms']:>8.1f}ms {r['all_p99_ms']:>8.1f}ms "
                f"{r['one_p50_ms']:>8.1f}ms {r['one_p99_ms']:>8.1f}ms {r['missing']:>8.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
