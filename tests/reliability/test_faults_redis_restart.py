"""Redis (append-only file on, as the embedded default runs it) restarts while sessions run: SIGTERM, and kill -9.
The worker and the store reconnect by themselves; every session finishes, no event is lost or doubled, no tool call
runs twice, and a message posted while Redis was down reaches the model."""

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from counting_sessions import FOLLOW_UP, counting_script, pushed_calls
from redis.asyncio import Redis
from spine import marker, settings_for, start, wait_event, wait_status, worker_running

from control_plane.runtime import REDIS_RETRY, Runtime
from harness.events import ModelTurnEvent, ToolResult, ToolStarted, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn
from harness.testing.redis_server import RedisServer
from integrations.streams import StreamConsumer, StreamKeys

SESSIONS, STEPS = 3, 6


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "kill-9"])
async def test_sessions_ride_through_a_redis_restart(
    tmp_path: Path, standin: AnthropicStandIn, remote: Path, hard: bool
) -> None:
    tags = [marker() for _ in range(SESSIONS)]
    for tag in tags:
        standin.register(counting_script(tag, STEPS, delay_s=0.2))
    with RedisServer(tmp_path / "redis") as server:
        async with Runtime.open(settings_for(tmp_path, server.url, standin.base_url)) as rt:
            sessions = [await start(rt, remote, f"{tag} count") for tag in tags]
            async with worker_running(rt, concurrency=SESSIONS):
                for s in sessions:
                    await wait_event(rt, s.id, "tool_started")
                await asyncio.to_thread(server.stop, hard=hard)
                # posted while nobody answers at the port: the store waits for Redis to come back
                posting = asyncio.create_task(
                    rt.store.post_message(sessions[0].id, UserMessage(text=FOLLOW_UP, author="bo"))
                )
                await asyncio.sleep(0.3)
                await asyncio.to_thread(server.start)
                await posting
                finals = [await wait_status(rt, s.id, {"finished", "failed"}) for s in sessions]
            logs = [[e.event for e in await rt.store.events(s.id)] for s in sessions]
    assert [f.status for f in finals] == ["finished"] * SESSIONS, [f.error for f in finals]
    for final, events in zip(finals, logs, strict=True):
        assert pushed_calls(remote, final.branch) == list(range(1, STEPS + 1))
        steps = [e.step for e in events if isinstance(e, ModelTurnEvent)]
        assert steps == sorted(set(steps)) and len(steps) >= STEPS + 1  # each turn logged once, none missing
        started = [e.tool_use_id for e in events if isinstance(e, ToolStarted)]
        results = [e.tool_use_id for e in events if isinstance(e, ToolResult)]
        assert started == results and len(started) == len(set(started)) >= STEPS
    assert sum(isinstance(e, UserMessage) and e.text == FOLLOW_UP for e in logs[0]) == 1
    asked = [r for r in standin.requests if r.script_key == tags[0]]
    assert any(FOLLOW_UP in json.dumps(r.messages) for r in asked)


async def test_a_redis_that_comes_back_empty_gets_its_consumer_group_again(
    tmp_path: Path, standin: AnthropicStandIn, remote: Path
) -> None:
    """Without its append-only file Redis restarts empty: the queued work is gone, but the worker must not die on
    the missing consumer group; it makes the group again and runs the sessions created afterwards."""
    before, after = marker(), marker()
    standin.register(counting_script(before, 1))
    standin.register(counting_script(after, 1))
    with RedisServer(tmp_path / "redis") as server:
        async with Runtime.open(settings_for(tmp_path, server.url, standin.base_url)) as rt, worker_running(rt, 1):
            first = await start(rt, remote, f"{before} count")
            assert (await wait_status(rt, first.id, {"finished", "failed"})).status == "finished"
            await asyncio.to_thread(server.stop, hard=True)
            shutil.rmtree(tmp_path / "redis")  # its data is lost
            await asyncio.to_thread(server.start)
            second = await start(rt, remote, f"{after} count")
            final = await wait_status(rt, second.id, {"finished", "failed"})
    assert final.status == "finished", final.error


async def test_a_webhook_consumer_gets_its_group_again_after_redis_lost_its_data(tmp_path: Path) -> None:
    handled: list[str] = []

    async def handle(raw: str) -> None:
        handled.append(raw)

    stream = StreamKeys(stream="ns:test:stream", group="test", attempts="ns:test:attempts")
    with RedisServer(tmp_path / "redis") as server:
        client = Redis.from_url(server.url, decode_responses=True, retry=REDIS_RETRY)
        consumer = StreamConsumer(client, stream, handle, reclaim_after_s=5, max_attempts=3)
        running = asyncio.create_task(consumer.run(block_ms=100))
        try:
            await client.xadd(stream.stream, {"d": "before"})
            async with asyncio.timeout(30):
                while handled != ["before"]:
                    await asyncio.sleep(0.02)
            await asyncio.to_thread(server.stop, hard=True)
            shutil.rmtree(tmp_path / "redis")
            await asyncio.to_thread(server.start)
            async with asyncio.timeout(30):
                while not await client.exists(stream.stream):  # only the consumer's group creation makes it
                    await asyncio.sleep(0.02)
                await client.xadd(stream.stream, {"d": "after"})
                while handled != ["before", "after"]:
                    await asyncio.sleep(0.02)
        finally:
            consumer.stop()
            await running
            await client.aclose()
