"""kill -9 of the worker running a session, at a random step, with a second worker process up and a follow-up posted
while the first is dead: the session ends correctly, no tool call runs twice, the follow-up reaches the model.
The full variant (N = 50, figures) is bench/crash_resume.py."""

import random
from pathlib import Path

from crash_drill import Workers, drill
from spine import marker

from control_plane.runtime import Runtime
from harness.testing.anthropic_standin import AnthropicStandIn

RUNS = 3


async def test_kill_9_at_random_steps_with_two_workers(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    rng = random.Random(10)  # fixed: the same steps every CI run; the bench draws new ones
    workers = Workers(rt, standin)
    workers.spawn()
    workers.spawn()
    try:
        outcomes = [await drill(rt, standin, workers, remote, marker(), rng) for _ in range(RUNS)]
    finally:
        workers.stop_all()
    assert [(o.status, o.executed_twice, o.follow_up_seen) for o in outcomes] == [("finished", 0, True)] * RUNS
    assert all(o.correct for o in outcomes), outcomes
