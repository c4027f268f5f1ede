"""Crash resume: kill -9 of the worker running a session, at a random step, N times, with two worker processes.

    .venv/bin/python bench/crash_resume.py [--runs 50] [--seed S]

Each run (tests/reliability/crash_drill.py, the same drill CI runs three times): a scripted session of 6 shell steps,
step i appending "i" to calls.log in the sandbox (pushed with the work, so a step run twice is countable); the worker
holding the session is killed with SIGKILL once step k has started (k random, plus a random pause of up to 0.2 s so the
kill lands in a tool call or in a model wait); a person's follow-up is posted while it is dead; a replacement worker is
started. Everything is real but the model: Redis, git, bubblewrap sandboxes, worker processes.
"""

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # spine.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reliability"))  # the drill CI runs too

from _support import make_remote, redis_server, settings
from crash_drill import LEASE_TTL_S, STEPS, DrillOutcome, Workers, drill

from control_plane.runtime import Runtime
from harness.testing.anthropic_standin import AnthropicStandIn


async def main(runs: int, seed: int) -> None:
    rng = random.Random(seed)
    outcomes: list[DrillOutcome] = []
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url, AnthropicStandIn() as standin:
        root = Path(tmp)
        remote = make_remote(root / "repo", 3)
        async with Runtime.open(settings(root, redis_url, standin.base_url)) as rt:
            workers = Workers(rt, standin)
            workers.spawn()
            workers.spawn()
            started = time.perf_counter()
            try:
                for i in range(runs):
                    outcomes.append(await drill(rt, standin, workers, remote, f"[crash:{seed}:{i}]", rng))
            finally:
                workers.stop_all()
            took = time.perf_counter() - started
    print(f"crash resume: {runs} runs, kill -9 at a random step of {STEPS}, two worker processes (seed {seed})")
    print(f"  command: python bench/crash_resume.py --runs {runs} --seed {seed}")
    print(f"  sessions reaching a correct end          {sum(o.correct for o in outcomes):5d} / {runs}")
    print(f"  sessions finished                        {sum(o.status == 'finished' for o in outcomes):5d} / {runs}")
    print(f"  user messages lost                       {sum(not o.follow_up_seen for o in outcomes):5d} / {runs}")
    print(f"  tool calls executed twice                {sum(o.executed_twice for o in outcomes):5d}")
    cut = sum(o.cut_short for o in outcomes)
    print(f"  tool calls cut short                     {cut:5d}  (answered 'interrupted, effects unknown', not rerun)")
    skipped = sum(STEPS - len(set(o.calls)) for o in outcomes)
    print(f"  scripted steps never run                 {skipped:5d}  (see below)")
    killed_at = dict(sorted(Counter(o.killed_at_step for o in outcomes).items()))
    print(f"  killed at step                           {killed_at}")
    print(f"  wall time per run                        {took / runs:8.2f} s  (then {LEASE_TTL_S} s lease lapse)")
    print("  A step never runs when its tool call was cut short before the command ran, or when the killed worker had")
    print("  the model's answer in flight: the stand-in does not replay an answer, the resumed worker asks again and")
    print("  gets the script's next step. A real model answers the repeated request anew.")
    for o in outcomes:
        if not o.correct:
            print(f"  not correct: {o}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=random.randrange(10_000))
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.seed))
