"""What the local sandbox's network isolation costs: `true` through exec, measured in the same run.

    .venv/bin/python bench/sandbox_network.py [--runs 200]

- bare: `true` with no isolation at all (isolation "none": the per-command baseline);
- bwrap, host network: the same bwrap command line without joining the sandbox's namespace (how commands ran
  before: --share-net on the host's network);
- bwrap, own namespace: what every command does now (setns into the sandbox's namespace between fork and exec);
- once per sandbox: making the namespace and starting its egress proxy (the first command of a sandbox in a worker).
Needs root (the namespaces), like the local provider itself.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.sandboxes._local_network import SandboxNetwork
from harness.sandboxes._process import CommandRun
from harness.sandboxes.base import NetworkPolicy, SandboxSpec
from harness.sandboxes.egress_proxy import ProxyLimits
from harness.sandboxes.local import LocalSandbox, LocalSandboxConfig, LocalSandboxProvider


async def run_true(sandbox: LocalSandbox, join_namespace: bool) -> float:
    """One `true` exactly as LocalSandbox.exec starts it, with or without the namespace step; seconds taken."""
    network = await sandbox._networks.get(sandbox._spec) if sandbox._networks else None
    env = sandbox._command_env(network.env() if network else {}, {})
    run = CommandRun(
        sandbox._argv("true", env, sandbox.workdir),
        env=env,
        cwd=sandbox._dirs.workspace,
        timeout_s=30,
        output_limit_bytes=1000,
        kill_after_output_bytes=10_000,
        on_output=None,
        child_steps=[network.enter] if network and join_namespace else [],
    )
    started = time.perf_counter()
    result = await run.execute()
    assert result.exit_code == 0, result.output
    return time.perf_counter() - started


async def medians_ms(bare: LocalSandbox, isolated: LocalSandbox, runs: int) -> tuple[float, float, float]:
    """Interleaved, so a change in the machine's load during the run weighs on the three alike."""
    times: tuple[list[float], list[float], list[float]] = ([], [], [])
    for _ in range(runs):
        times[0].append(await run_true(bare, False))
        times[1].append(await run_true(isolated, False))
        times[2].append(await run_true(isolated, True))
    bare_ms, shared_ms, own_ms = (statistics.median(t) * 1000 for t in times)
    return bare_ms, shared_ms, own_ms


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare_provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=root / "bare", isolation="none"))
        isolated_provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=root / "bwrap", isolation="bwrap"))
        bare = await bare_provider.create(SandboxSpec(session_id="bare"))
        isolated = await isolated_provider.create(SandboxSpec(session_id="isolated"))
        await isolated.exec("true")  # the namespace and proxy exist from here on
        bare_ms, shared_ms, own_ms = await medians_ms(bare, isolated, runs)
        openings = []
        for _ in range(20):
            started = time.perf_counter()
            network = await SandboxNetwork.open(NetworkPolicy(), "bench", 3128, ProxyLimits())
            openings.append(time.perf_counter() - started)
            await network.close()
        await isolated.terminate()
        await bare_provider.close()
        await isolated_provider.close()

    print(f"`true` through the local sandbox's exec, median of {runs} runs")
    print(f"  bare (isolation none)                        {bare_ms:8.2f} ms")
    print(f"  bwrap, host network (before)                 {shared_ms:8.2f} ms")
    print(f"  bwrap, the sandbox's own namespace (now)     {own_ms:8.2f} ms")
    print(f"  ratio own namespace / host network           {own_ms / shared_ms:8.2f}x")
    print(f"  ratio own namespace / bare                   {own_ms / bare_ms:8.2f}x")
    print(f"once per sandbox per worker: namespace + egress proxy  {statistics.median(openings) * 1000:8.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args().runs))
