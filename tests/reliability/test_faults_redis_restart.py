"""Redis (append-only file on, as the embedded default runs it) restarts while sessions run: SIGTERM, and kill -9.
The worker and the store reconnect by themselves; every session finishes, no event is lost or doubled, no tool call
runs twice, and a message posted while Redis was down reaches the model."""

import asyncio
import json
from pathlib import Path

import pytest
from counting_sessions import FOLLOW_UP, counting_script, pushed_calls
from spine import marker, settings_for, start, wait_event, wait_status, worker_running

from control_plane.runtime import Runtime
from harness.events import ModelTurnEvent, ToolResult, ToolStarted, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn
from harness.testing.redis_server import RedisServer

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
