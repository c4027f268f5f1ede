"""A rolling restart: worker A is sent SIGTERM mid-session; it finishes the tool call it is in, pushes a checkpoint
and hands the session back at once (lease released, job queued again); worker B finishes the session. Nothing a
person wrote is lost, no tool runs twice, no step is logged twice."""

import asyncio
import signal
from pathlib import Path

from conftest import sh
from spine import marker, spawn_worker, start, wait_event, wait_status

from control_plane import keys
from control_plane.runtime import Runtime
from harness.events import BranchPushed, ModelTurnEvent, Note, RunStarted, ToolResult, ToolStarted, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use


async def wait_for_text(path: Path, text: str, timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):
        while text not in path.read_text():
            await asyncio.sleep(0.05)


async def test_sigterm_hands_the_session_to_another_worker(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, seen = marker(), []

    def after_handover(req: RecordedRequest) -> Reply:
        seen.append(req)
        return Reply(tool_use("finish", {"summary": "done on the second worker"}))

    # The command waits for the test's go-ahead, so the SIGTERM surely arrives while it runs.
    waits = "while [ ! -f go ]; do sleep 0.05; done; rm go; echo ran >> ran.txt"
    standin.register(Script([Reply(tool_use("shell", {"command": waits}, id="toolu_wait")), after_handover], key=tag))
    session = await start(rt, remote, f"{tag} write ran.txt")
    # A lease far longer than the test waits: the session must move on because it was handed back, not taken over.
    first, first_log = spawn_worker(rt, standin, "a", NIGHTSHIFT_LEASE_TTL_S="300")
    second = None
    try:
        await wait_event(rt, session.id, "tool_started")
        await rt.store.post_message(session.id, UserMessage(text="written during the restart", author="bo"))
        first.send_signal(signal.SIGTERM)
        await wait_for_text(first_log, "stopping:")
        (rt.settings.data_dir / "sandboxes" / session.id / "workspace" / "go").touch()
        assert await asyncio.to_thread(first.wait, 60) == 0

        # Handed back, not abandoned: no lease, no job pending on the stopped worker, one job waiting for anyone.
        assert not await rt.redis.exists(keys.lease(session.id))
        assert (await rt.redis.xpending(keys.QUEUE, keys.QUEUE_GROUP))["pending"] == 0
        assert [fields for _, fields in await rt.redis.xrange(keys.QUEUE)] == [{"session": session.id}]
        pushed = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, BranchPushed)]
        assert [p.checkpoint for p in pushed] == [True]

        second, _ = spawn_worker(rt, standin, "b", NIGHTSHIFT_LEASE_TTL_S="300")
        final = await wait_status(rt, session.id, {"finished", "failed"})
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.kill()
                proc.wait(10)
    assert (final.status, final.summary) == ("finished", "done on the second worker"), final.error
    [req] = seen
    [result] = req.tool_results()
    assert (result.tool_use_id, result.is_error) == ("toolu_wait", False)
    assert req.user_text() == "[bo]: written during the restart"
    events = [e.event for e in await rt.store.events(session.id)]
    assert [(e.run, e.resumed) for e in events if isinstance(e, RunStarted)] == [(1, False), (1, True)]
    assert [e.name for e in events if isinstance(e, ToolStarted)] == ["shell", "finish"]
    assert [e.name for e in events if isinstance(e, ToolResult)] == ["shell", "finish"]
    assert [e.step for e in events if isinstance(e, ModelTurnEvent)] == [1, 2]
    assert sum(isinstance(e, Note) and "handed the session on" in e.text for e in events) == 1
    assert sh("git", "show", f"{final.branch}:ran.txt", cwd=remote) == "ran\n"  # the command ran once
