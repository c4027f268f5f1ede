"""One worker process driving many sessions at once, each model answer taking a second: wall time against the ideal.

    .venv/bin/python bench/load_sessions.py [--sessions 200] [--turns 3] [--model-delay 1.0]

A real worker process (`python -m control_plane.cli worker --concurrency N`) on a private redis-server, local
(bubblewrap) sandboxes, the anthropic SDK streaming from the scripted stand-in, which waits --model-delay seconds
before every answer: --turns - 1 shell calls (`true`), then finish. The ideal wall time is turns x delay (every
session waits on the model in parallel, and nothing else costs). Baseline, in the same run: one session alone on
the same worker, after a warm-up session (which clones the worker's mirror of the repository).
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import KEY, make_remote, percentile, redis_server, settings

from control_plane.models import NewSession
from control_plane.runtime import Runtime
from control_plane.sessions import create_session
from harness.events import TERMINAL_STATUSES, ModelTurnEvent
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use


def scripted(turns: int, delay_s: float) -> Script:
    """One script for every session: the turn is read from the request (assistant messages so far)."""

    def answer(req: RecordedRequest) -> Reply:
        done = sum(m.get("role") == "assistant" for m in req.messages)
        call = tool_use("shell", {"command": "true"}) if done < turns - 1 else tool_use("finish", {"summary": "ok"})
        return Reply(call, delay_s=delay_s)

    return Script([answer] * 100_000)


def spawn_worker(root: Path, redis_url: str, base_url: str, concurrency: int) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "REDIS_URL": redis_url,
        "NIGHTSHIFT_DATA_DIR": str(root / "data"),
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": base_url,
        "NIGHTSHIFT_MAX_STEPS": "10000",
    }
    command = [sys.executable, "-m", "control_plane.cli", "worker", "--concurrency", str(concurrency)]
    with (root / "worker.log").open("ab") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=log)


async def phases(rt: Runtime, session_id: str, delay_s: float) -> dict[str, float]:
    """Where one session's time went, from its event log (seconds)."""
    events = [e.event for e in await rt.store.events(session_id)]
    at = {e.kind: e.at for e in reversed(events)}  # the first of each kind
    turns = [e.at for e in events if isinstance(e, ModelTurnEvent)]
    return {
        "queued (created -> run started)": at["run_started"] - at["session_created"],
        "sandbox + prepare (run started -> first model call)": turns[0] - delay_s - at["run_started"],
        "publish (last model answer -> run finished)": at["run_finished"] - turns[-1],
    }


async def run_batch(rt: Runtime, repo: Path, n: int) -> tuple[float, list[float], dict[str, int], list[str]]:
    """Create n sessions at once and wait for all to end: (wall s, per-session s, count by final status, ids)."""
    started = time.monotonic()
    reqs = [NewSession(repo=str(repo), prompt=f"bench session {i}") for i in range(n)]
    sessions = await asyncio.gather(*(create_session(rt.store, r, max_prompt_bytes=10_000) for r in reqs))
    pending = {s.id for s in sessions}
    ended: dict[str, float] = {}
    statuses: dict[str, int] = {}
    while pending:
        await asyncio.sleep(0.1)
        for session_id in list(pending):
            status = (await rt.store.get(session_id)).status
            if status in TERMINAL_STATUSES:
                pending.discard(session_id)
                ended[session_id] = time.monotonic() - started
                statuses[status] = statuses.get(status, 0) + 1
    return time.monotonic() - started, sorted(ended.values()), statuses, [s.id for s in sessions]


async def main(sessions: int, turns: int, delay_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url, AnthropicStandIn() as standin:
        root = Path(tmp)
        standin.register(scripted(turns, delay_s))
        repo = make_remote(root / "repo", 3)
        worker = spawn_worker(root, redis_url, standin.base_url, sessions)
        try:
            async with Runtime.open(settings(root, redis_url, standin.base_url)) as rt:
                await run_batch(rt, repo, 1)  # warm-up: the worker's mirror of the repository is cloned here
                alone, _, alone_statuses, _ = await run_batch(rt, repo, 1)
                wall, each, statuses, ids = await run_batch(rt, repo, sessions)
                spent = [await phases(rt, session_id, delay_s) for session_id in ids]
        finally:
            worker.terminate()
            worker.wait(60)
    ideal = turns * delay_s
    print(f"{sessions} concurrent sessions on one worker process ({os.cpu_count()} CPUs; {turns} model turns each,")
    print(f"  every answer after {delay_s} s; bubblewrap sandboxes; Redis and the stand-in on the same machine)")
    print(f"  command: python bench/load_sessions.py --sessions {sessions} --turns {turns} --model-delay {delay_s}")
    print(f"  ideal wall time (turns x model delay)        {ideal:8.2f} s")
    print(f"  one session alone (baseline, same run)       {alone:8.2f} s   {alone_statuses}")
    print(f"  {sessions} sessions at once, wall time          {wall:8.2f} s   {statuses}")
    print(f"  per session: p50 {percentile(each, 50):.2f} s, p99 {percentile(each, 99):.2f} s")
    print(f"  ratio wall / ideal                           {wall / ideal:8.2f}x")
    print(f"  ratio wall / one session alone               {wall / alone:8.2f}x")
    print("  where the time went, per session (p50 / p99):")
    for phase in spent[0]:
        values = [s[phase] for s in spent]
        print(f"    {phase:54s} {percentile(values, 50):6.2f} s / {percentile(values, 99):6.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--model-delay", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.turns, args.model_delay))
