"""Escape probes against the local sandbox's network: private, CGNAT and link-local (cloud metadata) targets.

The targets live in a network namespace this test creates (a veth pair holding 10.77.0.1, 100.64.0.1,
169.254.169.254 and fd00:77::1, with a listener behind each), and the worker side (the sandbox provider, its egress
proxy included) runs inside that namespace: a broken isolation or a broken policy would connect to the test's own
listeners, and no probe can leave the machine whatever happens. Each listener must see exactly one connection, the
worker's own check that it answers.
"""

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("sandbox_network_worker.py")
TARGETS = ["10.77.0.1:8080", "100.64.0.1:8080", "169.254.169.254:80", "fd00:77::1:8080"]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"ns-probe-{uuid.uuid4().hex[:8]}"
    ip("netns", "add", name)
    try:
        inside = ["-n", name]
        ip(*inside, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1")
        for address in ("10.77.0.1/24", "100.64.0.1/10", "169.254.169.254/16"):
            ip(*inside, "addr", "add", address, "dev", "probe0")
        ip(*inside, "addr", "add", "fd00:77::1/64", "dev", "probe0", "nodad")
        for link in ("lo", "probe0", "probe1"):
            ip(*inside, "link", "set", link, "up")
        yield name
    finally:
        ip("netns", "del", name)


@pytest.mark.timeout(600)
def test_private_and_link_local_targets_are_unreachable(namespace: str, tmp_path: Path) -> None:
    run = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, str(WORKER), str(tmp_path / "sandboxes"), *TARGETS],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    outputs: dict[str, str] = report["outputs"]
    got_through = {probe: out for probe, out in outputs.items() if "CONNECTED" in out}
    print(f"\nsandbox network probes: {len(outputs) * 3} attempts, {len(got_through)} got through")
    assert got_through == {}
    assert report["connections"] == dict.fromkeys(TARGETS, 1)  # the worker's own check, nothing from a sandbox
    # the proxy's reasons, as the agent reads them (open: the address class; allowlist: not named; blocked: no proxy)
    assert "10.77.0.1 is a private address" in outputs["open 10.77.0.1:8080"]
    assert "169.254.169.254 is a link-local address" in outputs["open 169.254.169.254:80"]
    assert "100.64.0.1 is not a public address" in outputs["open 100.64.0.1:8080"]
    assert "fd00:77::1 is a private address" in outputs["open fd00:77::1:8080"]
    assert "not in the allow-list" in outputs["allowlist 169.254.169.254:80"]
    assert "Network is unreachable" in outputs["blocked 10.77.0.1:8080"]  # no proxy, and no route but lo
