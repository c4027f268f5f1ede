"""A worker process is killed with SIGKILL mid-session; another worker resumes the session from its log.
Nothing a person wrote is lost and no tool call is run twice."""

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from spine import SECRET, marker, start, wait_event, wait_status, worker_running

from control_plane.runtime import Runtime
from harness.events import ModelTurnEvent, RunStarted, ToolStarted, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use
from harness.transcript import INTERRUPTED


def spawn_worker(rt: Runtime, standin: AnthropicStandIn) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "REDIS_URL": str(rt.settings.redis_url),
        "NIGHTSHIFT_DATA_DIR": str(rt.settings.data_dir),
        "ANTHROPIC_API_KEY": SECRET,
        "ANTHROPIC_BASE_URL": standin.base_url,
        "NIGHTSHIFT_LEASE_TTL_S": "2",
    }
    cli = Path(sys.executable).parent / "nightshift"
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = (rt.settings.data_dir / "worker.log").open("ab")
    with log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([str(cli), "worker"], env=env, stdout=log, stderr=log)


async def resume_elsewhere(rt: Runtime, session_id: str) -> None:
    async with worker_running(rt):
        await wait_status(rt, session_id, {"finished", "failed"}, timeout_s=60)


async def test_kill_during_a_tool_call(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    tag, seen = marker(), []

    def after_resume(req: RecordedRequest) -> Reply:
        seen.append(req)
        return Reply(tool_use("finish", {"summary": "resumed"}))

    naptime = f"31.{random.randrange(10**6):06d}"  # unique, so a concurrent run's sleeps are not counted below
    sleeper = tool_use("shell", {"command": f"sleep {naptime}"}, id="toolu_sleeper")
    standin.register(Script([Reply(sleeper), after_resume], key=tag))
    session = await start(rt, remote, f"{tag} sleep")
    dead = spawn_worker(rt, standin)
    try:
        await wait_event(rt, session.id, "tool_started", timeout_s=30)
        dead.send_signal(signal.SIGKILL)
        dead.wait(10)
        await rt.store.post_message(session.id, UserMessage(text="written while no worker ran", author="bo"))
        await resume_elsewhere(rt, session.id)
    finally:
        dead.kill()
    final = await rt.store.get(session.id)
    assert final.status == "finished", final.error
    [req] = seen
    [result] = req.tool_results()
    assert (result.tool_use_id, result.is_error, result.text) == ("toolu_sleeper", True, INTERRUPTED)
    assert req.user_text() == "[bo]: written while no worker ran"
    events = [e.event for e in await rt.store.events(session.id)]
    assert (
        sum(isinstance(e, ToolStarted) and e.tool_use_id == "toolu_sleeper" for e in events) == 1
    )  # the interrupted command was not run again
    runs = [(e.run, e.resumed) for e in events if isinstance(e, RunStarted)]
    assert runs == [(1, False), (1, True)]
    leftover = subprocess.run(["pgrep", "-f", f"sleep {naptime}"], capture_output=True)
    assert leftover.returncode == 1, "the killed worker's command outlived it"


async def test_kill_while_waiting_for_the_model(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    tag = marker()
    steps = [
        Reply(tool_use("finish", {"summary": "never logged"}), delay_s=30),  # the worker dies during this
        Reply(tool_use("finish", {"summary": "second try"})),
    ]
    standin.register(Script(steps, key=tag))
    session = await start(rt, remote, f"{tag} slow model")
    dead = spawn_worker(rt, standin)
    try:
        async with asyncio.timeout(30):
            while not standin.requests:
                await asyncio.sleep(0.05)
        dead.send_signal(signal.SIGKILL)
        dead.wait(10)
        await resume_elsewhere(rt, session.id)
    finally:
        dead.kill()
    final = await rt.store.get(session.id)
    assert (final.status, final.summary) == ("finished", "second try")
    assert standin.requests[0].messages == standin.requests[1].messages  # the same request, asked again
    turns = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, ModelTurnEvent)]
    assert [t.step for t in turns] == [1]
