"""Redis restarts in the middle of sessions: sessions and events lost, for each way of stopping it and fsync policy.

    .venv/bin/python bench/redis_restart.py [--sessions 20] [--steps 8] [--down-s 1.0]

For each case (SIGTERM with appendfsync everysec, the embedded default; kill -9 with everysec; kill -9 with always):
a redis-server with its append-only file, a worker (in this process, on the product's own connection pool) running
--sessions counting sessions (tests/reliability/counting_sessions.py: step i appends "i" to calls.log, pushed with the
work), Redis stopped once every session has started a tool call, a follow-up posted to each session while Redis is
down, Redis started again on the same port and files after --down-s. Counted per case: sessions finished, follow-ups
that never reached the model, model turns missing from a log (a gap in the step numbers), events logged twice, tool
calls run twice (a repeated line in calls.log), and tool calls cut short.

A kill -9 of redis-server is not a power cut: what Redis wrote to the file is in the kernel's page cache and survives
the process, so even everysec loses nothing here. What everysec can lose (up to a second of writes) needs the machine
to stop, which this bench cannot do.
"""

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reliability"))  # the CI test's helpers

from _support import make_remote, settings
from counting_sessions import FOLLOW_UP, counting_script, pushed_calls

from control_plane.models import NewSession
from control_plane.runtime import Runtime
from control_plane.sessions import create_session
from harness.events import ModelTurnEvent, ToolResult, ToolStarted, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn
from harness.testing.redis_server import FsyncPolicy, RedisServer
from harness.transcript import INTERRUPTED


@dataclass
class Tally:
    finished: int = 0
    follow_ups_lost: int = 0
    turns_missing: int = 0
    events_twice: int = 0
    tools_twice: int = 0
    tools_cut: int = 0


async def wait_until(check: Callable[[], Awaitable[bool]], timeout_s: float = 120) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.05)


async def one_case(
    root: Path, standin: AnthropicStandIn, n: int, steps: int, hard: bool, fsync: FsyncPolicy, down_s: float
) -> Tally:
    repo = make_remote(root / "repo", 3)
    tags = [f"[redis:{root.name}:{i}]" for i in range(n)]
    for tag in tags:
        standin.register(counting_script(tag, steps, delay_s=0.2))
    tally = Tally()
    with RedisServer(root / "redis", appendfsync=fsync) as server:
        async with Runtime.open(settings(root, server.url, standin.base_url)) as rt:
            reqs = [NewSession(repo=str(repo), prompt=f"{tag} count") for tag in tags]
            sessions = [await create_session(rt.store, r, max_prompt_bytes=10_000) for r in reqs]
            worker = rt.worker(rt.model(), concurrency=n)
            running = asyncio.create_task(worker.run())

            async def all_started() -> bool:
                kinds = [[e.event.kind for e in await rt.store.events(s.id)] for s in sessions]
                return all("tool_started" in k for k in kinds)

            await wait_until(all_started)
            await asyncio.to_thread(server.stop, hard=hard)
            posts = [rt.store.post_message(s.id, UserMessage(text=FOLLOW_UP, author="bo")) for s in sessions]
            posting = asyncio.gather(*posts)  # they wait for Redis to come back
            await asyncio.sleep(down_s)
            await asyncio.to_thread(server.start)
            await posting

            async def all_ended() -> bool:
                return all([(await rt.store.get(s.id)).status in {"finished", "failed"} for s in sessions])

            await wait_until(all_ended)
            worker.stop()
            await running
            for tag, s in zip(tags, sessions, strict=True):
                final = await rt.store.get(s.id)
                events = [e.event for e in await rt.store.events(s.id)]
                tally.finished += final.status == "finished"
                asked = [r for r in standin.requests if r.script_key == tag]
                tally.follow_ups_lost += not any(FOLLOW_UP in json.dumps(r.messages) for r in asked)
                turns = [e.step for e in events if isinstance(e, ModelTurnEvent)]
                tally.turns_missing += len(set(range(1, max(turns) + 1)) - set(turns))
                started = [e.tool_use_id for e in events if isinstance(e, ToolStarted)]
                tally.events_twice += len(started) - len(set(started)) + len(turns) - len(set(turns))
                tally.tools_cut += sum(isinstance(e, ToolResult) and e.output == INTERRUPTED for e in events)
                calls = pushed_calls(repo, final.branch) if final.pushed_commit else []
                tally.tools_twice += len(calls) - len(set(calls))
    return tally


async def main(n: int, steps: int, down_s: float) -> None:
    cases: list[tuple[str, bool, FsyncPolicy]] = [
        ("SIGTERM, appendfsync everysec (embedded default)", False, "everysec"),
        ("kill -9, appendfsync everysec", True, "everysec"),
        ("kill -9, appendfsync always", True, "always"),
    ]
    print(f"Redis restart mid-session: {n} sessions of {steps} steps, Redis down {down_s} s, one worker")
    print(f"  command: python bench/redis_restart.py --sessions {n} --steps {steps} --down-s {down_s}")
    with AnthropicStandIn() as standin:
        for i, (name, hard, fsync) in enumerate(cases):
            with tempfile.TemporaryDirectory(prefix=f"case{i}-") as tmp:
                t = await one_case(Path(tmp), standin, n, steps, hard, fsync, down_s)
            print(f"  {name}")
            print(
                f"    sessions finished {t.finished}/{n}; follow-ups lost {t.follow_ups_lost}; model turns missing "
                f"{t.turns_missing}; events logged twice {t.events_twice}; tool calls run twice {t.tools_twice}; "
                f"tool calls cut short {t.tools_cut}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--down-s", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.steps, args.down_s))
