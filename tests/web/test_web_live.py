"""The live session stream on a real server: late joiners get the page's history and then the stream with nothing
missed or doubled at the seam, a reconnect resumes from Last-Event-ID, status updates arrive, and one shared read
loop per session serves every viewer."""

import asyncio
import random
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import Sse, WebServerThread, signed_in_client, sse_events
from redis.asyncio import Redis
from web_helpers import seed

from control_plane.config import Settings
from control_plane.models import Session
from control_plane.store import SessionStore
from control_plane.web.config import web_config
from control_plane.web.live import Feed, LiveBatch, LiveHub
from harness.events import Note, ToolResult, ToolStarted

END = "the end of the test"


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[WebServerThread]:
    with WebServerThread(redis_url, tmp_path / "data", stream_block_ms=300) as s:
        yield s


async def until(response: httpx.Response, done: str) -> list[Sse]:
    """Events of the stream up to and including the first whose data contains `done`."""
    got: list[Sse] = []
    async with asyncio.timeout(30):
        async for sse in sse_events(response):
            got.append(sse)
            if done in sse.text:
                return got
    raise AssertionError(f"the stream ended before {done!r}")


async def join_late(base_url: str, session_id: str, delay_s: float) -> list[str]:
    """A viewer who opens the page at some point and then follows it live: the ids it ends up showing."""
    await asyncio.sleep(delay_s)
    async with signed_in_client(base_url) as client:
        html = (await client.get(f"/sessions/{session_id}")).text
        shown = re.findall(r'id="ev-([\d-]+)"', html)
        stream = re.search(r'data-stream="([^"]+)"', html)
        assert stream
        async with client.stream("GET", stream.group(1).replace("&amp;", "&")) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = await until(response, END)
        return shown + [e.id for e in events if e.event == "ev" and e.id is not None]


async def test_late_joiners_see_every_event_exactly_once(server: WebServerThread, redis: Redis) -> None:
    store = SessionStore(redis)
    session = await seed(store)

    async def write() -> None:
        for i in range(300):
            await store.append(session.id, Note(text=f"note {i}"))
            await asyncio.sleep(random.uniform(0, 0.004))
        await store.append(session.id, Note(text=END))

    viewers = [join_late(server.base_url, session.id, random.uniform(0, 1.0)) for _ in range(12)]
    *seen, _ = await asyncio.gather(*viewers, write())
    log = [e.id for e in await store.events(session.id)]
    for ids in seen:
        assert ids == log  # in order, none missing, none twice


async def test_reconnecting_with_last_event_id_resumes_after_it(server: WebServerThread, redis: Redis) -> None:
    store = SessionStore(redis)
    session = await seed(store, events=[Note(text=f"n{i}") for i in range(10)] + [Note(text=END)])
    log = [e.id for e in await store.events(session.id)]
    async with signed_in_client(server.base_url) as client:
        url = f"/sessions/{session.id}/live"
        async with client.stream("GET", url, params={"after": "0-0"}) as response:
            first = [e.id for e in await until(response, "n4") if e.event == "ev"]
        assert first == log[: len(first)]
        headers = {"Last-Event-ID": first[-1]}  # what EventSource sends when it reconnects
        async with client.stream("GET", url, params={"after": "0-0"}, headers=headers) as response:
            rest = [e.id for e in await until(response, END) if e.event == "ev"]
    assert first + rest == log


async def test_status_and_cost_updates_arrive_as_summaries(server: WebServerThread, redis: Redis) -> None:
    store = SessionStore(redis)
    session = await seed(store)
    async with (
        signed_in_client(server.base_url) as client,
        client.stream("GET", f"/sessions/{session.id}/live") as response,
    ):
        events = sse_events(response)
        summaries: list[str] = []
        async with asyncio.timeout(20):
            async for sse in events:
                if sse.event == "summary":
                    summaries.append(sse.text)
                    if len(summaries) == 1:  # after the history: now change the session
                        await store.add_usage(session.id, input_tokens=1000, output_tokens=500, cost_usd=1.25)
                        await store.set_status(session.id, "running", "picked up")
                    elif '"running"' in sse.text:
                        break
    assert '"status": "queued"' in summaries[0]
    assert '"status": "running"' in summaries[-1] and '"cost": "$1.25"' in summaries[-1]
    assert '"tokens": "1.5k"' in summaries[-1]


async def test_live_fragments_are_escaped_and_say_where_they_belong(server: WebServerThread, redis: Redis) -> None:
    store = SessionStore(redis)
    session = await seed(store)
    async with (
        signed_in_client(server.base_url) as client,
        client.stream("GET", f"/sessions/{session.id}/live") as response,
    ):
        reading = asyncio.create_task(until(response, END))
        await asyncio.sleep(0.3)
        await store.append(session.id, ToolStarted(tool_use_id="toolu_1", name="shell", summary="shell x"))
        await store.append(session.id, ToolResult(tool_use_id="toolu_1", name="shell", output="<script>x()</script>"))
        await store.append(session.id, Note(text=END))
        events = await reading
    [result] = [e for e in events if e.event == "ev" and "tool-result" in e.text]
    assert 'data-attach="tool-toolu_1"' in result.text
    assert "&lt;script&gt;x()&lt;/script&gt;" in result.text and "<script>" not in result.text


async def test_an_unknown_session_stream_is_a_404(server: WebServerThread) -> None:
    async with signed_in_client(server.base_url) as client:
        assert (await client.get("/sessions/nope/live")).status_code == 404


@pytest.mark.parametrize("cursor", ["99999999999999999999-0", "0-18446744073709551616", "1-2-3"])
async def test_a_malformed_cursor_is_a_400_not_a_redis_error(
    server: WebServerThread, redis: Redis, cursor: str
) -> None:
    session = await seed(SessionStore(redis), status="finished")
    async with signed_in_client(server.base_url) as client:
        url, wants = f"/sessions/{session.id}/live", {"Accept": "application/json"}
        by_query = await client.get(url, params={"after": cursor}, headers=wants)
        by_header = await client.get(url, headers={"Last-Event-ID": cursor, **wants})
    assert (by_query.status_code, by_header.status_code) == (400, 400)
    assert by_query.json()["detail"].startswith(f"after '{cursor}' is not an event id")
    assert by_header.json()["detail"].startswith(f"Last-Event-ID '{cursor}' is not an event id")


# --- the shared loop ------------------------------------------------------------------------------------------------


def _summary(s: Session) -> str:
    return s.status


async def test_many_viewers_share_one_read_loop_per_session(redis: Redis) -> None:
    store = SessionStore(redis)
    one, two = await seed(store), await seed(store)
    hub = LiveHub(store, lambda sid, item: item.id, _summary, block_ms=200)
    async with hub.watch(one.id) as a, hub.watch(one.id) as b, hub.watch(two.id) as c:
        assert hub.watched() == 2
        event_id = await store.append(one.id, Note(text="hello"))
        for feed in (a, b):
            batch = await feed.get(5)
            assert batch is not None and [e.id for e in batch.events] == [event_id]
            assert b"queued" in batch.summary
        assert await c.get(0.3) == LiveBatch([], b"")  # a quiet interval, not an end
    assert hub.watched() == 0


def test_a_viewer_too_slow_to_keep_up_is_dropped_not_waited_for() -> None:
    feed = Feed()
    for _ in range(feed.queue.maxsize + 1):
        feed.offer(LiveBatch([], b"x"))
    assert feed.closed
    # its stream ends at once, without the backlog: the browser reconnects and catches up from the log
    assert asyncio.run(feed.get(1)) is None


async def test_a_quiet_session_outlives_the_redis_clients_read_timeout(redis_url: str, redis: Redis) -> None:
    """With the default client (redis-py 8: a 5 s socket timeout) and the default web config, a viewer watching a
    session that says nothing for longer than that still gets the next event: the shared read loop never blocks
    longer than the client lets it."""
    client = Redis.from_url(redis_url, decode_responses=True)
    store = SessionStore(client)
    config = web_config(Settings.model_validate({"data_dir": "/tmp", "api_token": "t" * 20}), "t" * 20)
    hub = LiveHub(store, lambda sid, item: item.id, _summary, block_ms=config.stream_block_ms)
    session = await seed(store)
    try:
        async with hub.watch(session.id) as feed:
            await asyncio.sleep(6)
            event_id = await store.append(session.id, Note(text="after a long silence"))
            seen: list[str] = []
            async with asyncio.timeout(10):
                while event_id not in seen:
                    batch = await feed.get(5)
                    assert batch is not None, "the viewer was dropped: the read loop died in the silence"
                    seen += [e.id for e in batch.events]
    finally:
        await client.aclose()
