"""What scoring adds to a session: one eval task (repo made, session, fresh checkout, check in its own sandbox)
against the same scripted session run bare, on the same machine in the same run.

    .venv/bin/python bench/evals.py [--runs 5]

Everything is real but the model (Redis, git, the local sandbox, the anthropic SDK against the scripted stand-in).
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import redis_server, run_finished_session, settings

from control_plane.runtime import Runtime
from evals.repos import bare_from_files
from evals.runner import run_suite
from evals.suite import find_suite
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use

TASK = "py-leap-year"
FIX = {
    "path": "calendar_math.py",
    "old_text": "year % 4 == 0",
    "new_text": "year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)",
}


def script(key: str) -> Script:
    return Script([Reply(tool_use("edit_file", FIX)), Reply(tool_use("finish", {"summary": "fixed"}))], key=key)


async def main(runs: int) -> None:
    suite = find_suite("starter")
    suite = suite.model_copy(update={"tasks": [t for t in suite.tasks if t.name == TASK]})
    bare_s, eval_s = [], []
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url, AnthropicStandIn() as standin:
        root = Path(tmp)
        async with Runtime.open(settings(root, redis_url, standin.base_url)) as rt:
            for n in range(runs):
                standin.register(script(f"[bare:{n}]"))
                remote = bare_from_files(suite.tasks[0].repo_dir, root / f"bare-{n}.git")
                started = time.monotonic()
                await run_finished_session(rt, remote, f"[bare:{n}] {suite.tasks[0].prompt}")
                bare_s.append(time.monotonic() - started)

                task = suite.tasks[0].model_copy(update={"prompt": f"[eval:{n}] {suite.tasks[0].prompt}"})
                standin.register(script(f"[eval:{n}]"))
                started = time.monotonic()
                run = await run_suite(rt, suite.model_copy(update={"tasks": [task]}), model="claude-sonnet-4-6")
                eval_s.append(time.monotonic() - started)
                assert run.tasks[0].outcome == "pass", run.tasks[0]

    bare, scored = statistics.median(bare_s), statistics.median(eval_s)
    print(f"one task ({TASK}), scripted model, local sandbox, median of {runs} runs")
    print(f"  bare session (create → finished):            {bare:6.2f} s")
    print(f"  eval task (repo, session, checkout, check):  {scored:6.2f} s   ({scored / bare:.2f}x the bare session)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
