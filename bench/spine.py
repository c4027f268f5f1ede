"""Orchestration overhead per agent step, and session start time on a 10,000-file repository.

    .venv/bin/python bench/spine.py [--steps 200] [--files 10000]

Everything is real but the model: Redis, git, the sandbox (bubblewrap when installed), the anthropic SDK over
HTTP to the scripted stand-in, which answers at once. Baselines are measured in the same run:
- a bare subprocess (`true` through asyncio, and through the sandbox's own exec) for the per-step figure;
- a plain `git clone` of the same repository for the start-time figure.
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import make_remote, redis_server, run_finished_session, settings

from control_plane.runtime import Runtime
from harness.events import ToolStarted
from harness.messages import Message, TextBlock
from harness.sandboxes import SandboxSpec
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use
from harness.tools import TOOLS


async def bare_subprocess_ms(n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        proc = await asyncio.create_subprocess_exec("true")
        await proc.wait()
    return (time.perf_counter() - started) * 1000 / n


async def sandbox_exec_ms(root: Path, n: int) -> tuple[float, str]:
    provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=root / "sb"))
    sandbox = await provider.create(SandboxSpec(session_id="bench"))
    started = time.perf_counter()
    for _ in range(n):
        await sandbox.exec("true")
    took = (time.perf_counter() - started) * 1000 / n
    await sandbox.terminate()
    return took, "bwrap" if sandbox.workdir == "/workspace" else "none"


async def model_call_ms(rt: Runtime, n: int) -> float:
    """The model call alone: the anthropic SDK streaming from the stand-in, no log, no tool."""
    model = rt.model()
    messages = [Message(role="user", content=[TextBlock(text="[bench:model] hi")])]
    started = time.perf_counter()
    for _ in range(n):
        await model.complete("system", messages, [t.spec() for t in TOOLS.values()])
    return (time.perf_counter() - started) * 1000 / n


async def run_session(rt: Runtime, repo: Path, prompt: str) -> tuple[float, float, float]:
    """(seconds from request to first tool call, seconds of the run, model turns)."""
    started, final, events = await run_finished_session(rt, repo, prompt)
    first_tool = next(e.at for e in events if isinstance(e, ToolStarted))
    run_started = next(e.at for e in events if e.kind == "run_started")
    run_ended = next(e.at for e in events if e.kind == "run_finished")
    return first_tool - started, run_ended - run_started, final.steps


async def main(steps: int, files: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url, AnthropicStandIn() as standin:
        root = Path(tmp)
        script = [Reply(tool_use("shell", {"command": "true"})) for _ in range(steps)]
        standin.register(Script([*script, Reply(tool_use("finish", {"summary": "done"}))], key="[bench:steps]"))
        standin.register(
            Script(
                [Reply(tool_use("shell", {"command": "true"})), Reply(tool_use("finish", {"summary": "done"}))],
                key="[bench:start]",
            )
        )
        standin.register(Script([Reply("hello") for _ in range(100)], key="[bench:model]"))
        small = make_remote(root / "small", 3)
        big = make_remote(root / "big", files)
        bare_ms = await bare_subprocess_ms(200)
        exec_ms, isolation = await sandbox_exec_ms(root, 200)
        async with Runtime.open(settings(root, redis_url, standin.base_url)) as rt:
            _, run_s, turns = await run_session(rt, small, f"[bench:steps] {steps} trivial steps")
            first_tool_s, _, _ = await run_session(rt, big, "[bench:start] one step")
            model_ms = await model_call_ms(rt, 100)
        clone_started = time.perf_counter()
        subprocess.run(["git", "clone", "-q", str(big), str(root / "plain-clone")], check=True)
        clone_s = time.perf_counter() - clone_started

    per_step_ms = run_s * 1000 / turns
    print(f"per agent step ({turns} steps; model answers at once; tool: `true`; sandbox isolation: {isolation})")
    print(f"  nightshift step (model call + log + tool + log)   {per_step_ms:8.2f} ms")
    print(f"  sandbox exec of `true` alone                       {exec_ms:8.2f} ms")
    print(f"  bare subprocess `true` (baseline)                  {bare_ms:8.2f} ms")
    print(f"  ratio step / bare subprocess                       {per_step_ms / bare_ms:8.1f}x")
    print(f"  model call alone (SDK streaming from stand-in)     {model_ms:8.2f} ms")
    print(f"  orchestration overhead (step - exec - model call)  {per_step_ms - exec_ms - model_ms:8.2f} ms")
    print(f"session start, request → first tool call ({files:,}-file repo, cold mirror)")
    print(f"  nightshift                                         {first_tool_s:8.2f} s")
    print(f"  plain `git clone` of the same repo (baseline)      {clone_s:8.2f} s")
    print(f"  ratio                                              {first_tool_s / clone_s:8.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.steps, args.files))
