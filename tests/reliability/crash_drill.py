"""The crash drill shared by tests/reliability/test_faults_crash_resume.py (a few runs, in CI) and bench/crash_resume.py
(N = 50): two real worker processes, a counting session (counting_sessions.py), kill -9 of the worker holding the
session at a random step, a person's follow-up posted while that worker is dead, a fresh worker started in its place."""

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from counting_sessions import FOLLOW_UP, counting_script, pushed_calls
from spine import SECRET, start, wait_status

from control_plane import keys
from control_plane.runtime import Runtime
from harness.events import ToolResult, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn
from harness.transcript import INTERRUPTED

REPO_ROOT = Path(__file__).resolve().parents[2]
STEPS = 6
LEASE_TTL_S = 2


@dataclass(frozen=True)
class DrillOutcome:
    status: str
    killed_at_step: int
    calls: list[int]
    """Step numbers in calls.log as pushed, in order."""
    follow_up_seen: bool
    """The person's follow-up reached the model."""
    cut_short: int
    """Tool calls answered "interrupted, effects unknown" instead of being run again."""
    error: str

    @property
    def executed_twice(self) -> int:
        return sum(self.calls.count(step) - 1 for step in set(self.calls))

    @property
    def correct(self) -> bool:
        """Finished, nothing run twice, the follow-up delivered, and every step ran but (perhaps) the one cut short."""
        missing = set(range(1, STEPS + 1)) - set(self.calls)
        return self.status == "finished" and not self.executed_twice and self.follow_up_seen and len(missing) <= 1


class Workers:
    """Worker processes (`python -m control_plane.cli worker`) on the runtime's Redis and data dir."""

    def __init__(self, rt: Runtime, standin: AnthropicStandIn) -> None:
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(REPO_ROOT),
            "REDIS_URL": str(rt.settings.redis_url),
            "NIGHTSHIFT_DATA_DIR": str(rt.settings.data_dir),
            "ANTHROPIC_API_KEY": SECRET,
            "ANTHROPIC_BASE_URL": standin.base_url,
            "NIGHTSHIFT_LEASE_TTL_S": str(LEASE_TTL_S),
        }
        self.log_path = rt.settings.data_dir / "workers.log"
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            command = [sys.executable, "-m", "control_plane.cli", "worker"]
            proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=log, cwd=REPO_ROOT)
        self.procs[proc.pid] = proc

    def kill(self, pid: int) -> None:
        proc = self.procs.pop(pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.terminate()  # SIGTERM: hands running sessions back
        for proc in self.procs.values():
            proc.wait(30)
        self.procs.clear()


async def holder_pid(rt: Runtime, session_id: str) -> int:
    """The pid of the worker holding the session's lease (its name is host:pid:suffix)."""
    async with asyncio.timeout(30):
        while (holder := await rt.redis.get(keys.lease(session_id))) is None:
            await asyncio.sleep(0.01)
    return int(holder.split(":")[1])


async def tools_started(rt: Runtime, session_id: str) -> int:
    return sum(e.event.kind == "tool_started" for e in await rt.store.events(session_id))


async def drill(
    rt: Runtime, standin: AnthropicStandIn, workers: Workers, remote: Path, tag: str, rng: random.Random
) -> DrillOutcome:
    """One run: kill the holder once the session has started tool call `step` (plus a random pause, so the kill
    lands in a tool call or in a model wait), post the follow-up, start a replacement, wait for the end."""
    standin.register(counting_script(tag, STEPS, delay_s=0.15))
    session = await start(rt, remote, f"{tag} count")
    step = rng.randint(1, STEPS)
    async with asyncio.timeout(60):
        while await tools_started(rt, session.id) < step:
            await asyncio.sleep(0.01)
    holder = await holder_pid(rt, session.id)  # before the pause: after the last step the session may have ended
    await asyncio.sleep(rng.uniform(0, 0.2))
    workers.kill(holder)
    await rt.store.post_message(session.id, UserMessage(text=FOLLOW_UP, author="bo"))
    workers.spawn()
    final = await wait_status(rt, session.id, {"finished", "failed"}, timeout_s=90)
    asked = [r for r in standin.requests if r.script_key == tag]
    events = await rt.store.events(session.id)
    return DrillOutcome(
        status=final.status,
        killed_at_step=step,
        calls=pushed_calls(remote, final.branch) if final.pushed_commit else [],
        follow_up_seen=any(FOLLOW_UP in json.dumps(r.messages) for r in asked),
        cut_short=sum(isinstance(e.event, ToolResult) and e.event.output == INTERRUPTED for e in events),
        error=final.error,
    )
