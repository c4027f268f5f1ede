"""Bad input over HTTP, the full run: N hypothesis cases over every route of `nightshift serve` (every integration
on, real uvicorn on loopback, a private redis-server). Prints the count of 5xx answers and dropped connections
(both must be 0), the answers by status, and the cases per route kind.

    .venv/bin/python bench/fuzz_http.py [--cases 10000]

The cases are tests/reliability/http_fuzz.py's (the CI test runs a few hundred of the same)."""

import argparse
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

from http_fuzz import Case, Outcome, cases, fuzz_world  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bench._support import redis_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    args = parser.parse_args()
    outcome, kinds = Outcome(), Counter[str]()
    with redis_server() as url, tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with fuzz_world(Path(tmp), url, port) as world:

            @settings(max_examples=args.cases, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(st.data())
            def one(data: st.DataObject) -> None:
                case: Case = data.draw(cases(world.endpoints, world.session_id, world.examples))
                kinds[case.path.split("/")[1] + ("/" + case.path.split("/")[2] if "webhooks" in case.path else "")] += 1
                world.send(case, outcome)

            started = time.monotonic()
            one()
            elapsed = time.monotonic() - started
            alive = world.server.alive
    print(f"command: python bench/fuzz_http.py --cases {args.cases}")
    print(f"routes fuzzed: {len(world.endpoints)}; cases sent: {outcome.cases} in {elapsed:.0f} s")
    print(f"5xx answers and dropped connections: {len(outcome.failures)} (must be 0); server alive after: {alive}")
    print("answers by status: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcome.by_status.items())))
    print("cases by route: " + ", ".join(f"/{k}: {v}" for k, v in sorted(kinds.items())))
    for line in outcome.failures[:20]:
        print("  " + line)
    sys.exit(1 if outcome.failures or not alive else 0)


if __name__ == "__main__":
    main()
