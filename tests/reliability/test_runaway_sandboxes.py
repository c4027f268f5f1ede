"""Runaway commands in the local sandbox (bubblewrap): a fork bomb, a disk filler, gigabytes of output, a command
that never ends. Each gets a clear tool error, the sandbox stays usable, and nothing is left on the host.

The fork bomb runs only under a pids cgroup with a small cap, set before the bomb starts (the machine is shared)."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from spine import marker, run_to_end, settings_for

from control_plane.runtime import Runtime
from harness.events import ToolResult
from harness.sandboxes import SandboxSpec
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use

PIDS_ROOT = Path("/sys/fs/cgroup/pids")
FORK_BOMB = ":(){ :|:& };:; sleep 60"
MAX_PROCESSES = 48


@pytest.fixture
def pids_cgroup() -> Iterator[Path]:
    """A pids cgroup of this test's own; each command gets a child of it."""
    if not (PIDS_ROOT / "cgroup.procs").is_file():
        pytest.skip("no cgroup v1 pids hierarchy at /sys/fs/cgroup/pids")
    parent = PIDS_ROOT / f"nightshift-test-{uuid.uuid4().hex[:8]}"
    parent.mkdir()
    (parent / "pids.max").write_text(str(MAX_PROCESSES))  # the bound on all of this test, whatever it configures
    yield parent
    leftovers = [p.name for p in parent.iterdir() if p.is_dir()]
    parent.rmdir()
    assert leftovers == [], "a command's cgroup was left behind"


def provider(tmp_path: Path, **config: object) -> LocalSandboxProvider:
    values = {"root_dir": tmp_path / "sandboxes", "isolation": "bwrap", **config}
    return LocalSandboxProvider(LocalSandboxConfig.model_validate(values))


async def test_fork_bomb_hits_the_process_cap_and_leaves_nothing(tmp_path: Path, pids_cgroup: Path) -> None:
    sb = await provider(tmp_path, pids_cgroup=pids_cgroup, max_processes=MAX_PROCESSES).create(
        SandboxSpec(session_id="s1")
    )
    result = await sb.exec(FORK_BOMB, timeout_s=3)
    assert result.timed_out and result.exit_code is None
    assert f"[the command reached the {MAX_PROCESSES}-process limit: forks were refused]" in result.output
    assert [p for p in pids_cgroup.iterdir() if p.is_dir()] == []  # every process of it is gone
    after = await sb.exec("echo alive")
    assert (after.exit_code, after.output) == (0, "alive\n")
    await sb.terminate()


@pytest.mark.skipif(os.geteuid() != 0, reason="a uid of the session's own exists only when the worker is root")
async def test_a_root_worker_caps_a_fork_bomb_without_a_cgroup(tmp_path: Path) -> None:
    """The kernel never applies RLIMIT_NPROC to uid 0; commands now run as the session's own uid, so it holds, and
    counts only this session's processes."""
    sb = await provider(tmp_path, max_processes=MAX_PROCESSES).create(SandboxSpec(session_id="s1"))
    result = await sb.exec(FORK_BOMB, timeout_s=3)
    assert result.timed_out and "fork: retry: Resource temporarily unavailable" in result.output
    after = await sb.exec("echo alive")
    assert (after.exit_code, after.output) == (0, "alive\n")
    await sb.terminate()


async def test_a_command_under_the_cap_is_not_flagged(tmp_path: Path, pids_cgroup: Path) -> None:
    sb = await provider(tmp_path, pids_cgroup=pids_cgroup, max_processes=MAX_PROCESSES).create(
        SandboxSpec(session_id="s1")
    )
    result = await sb.exec("for i in 1 2 3; do sleep 0.1 & done; wait; echo done")
    assert (result.exit_code, result.output) == (0, "done\n")
    await sb.terminate()


async def test_a_file_larger_than_the_cap_is_refused(tmp_path: Path) -> None:
    sb = await provider(tmp_path, max_file_bytes=1_000_000).create(SandboxSpec(session_id="s1"))
    result = await sb.exec("head -c 50000000 /dev/zero > big.bin; echo exit=$?; ls -l big.bin")
    assert "File size limit exceeded" in result.output
    assert "exit=153" in result.output  # 128 + SIGXFSZ
    assert (tmp_path / "sandboxes/s1/workspace/big.bin").stat().st_size == 1_000_000
    await sb.terminate()


async def test_limits_are_visible_to_commands(tmp_path: Path) -> None:
    sb = await provider(tmp_path, max_file_bytes=4096 * 1024, max_processes=300).create(SandboxSpec(session_id="s1"))
    result = await sb.exec("ulimit -u; ulimit -f")  # ulimit -f counts 1024-byte blocks
    assert result.output == "300\n4096\n"
    await sb.terminate()


async def test_session_survives_runaway_commands(
    tmp_path: Path, redis_url: str, redis: Redis, standin: AnthropicStandIn, remote: Path, pids_cgroup: Path
) -> None:
    """Every runaway kind in one session: each is a tool result with a clear reason, then the session finishes."""
    settings = settings_for(tmp_path, redis_url, standin.base_url, sandbox_pids_cgroup=pids_cgroup, command_timeout_s=3)
    tag = marker()
    commands = [FORK_BOMB, "cat /dev/zero", "sleep 600"]
    turns = [Reply(tool_use("shell", {"command": c, "timeout_s": 3})) for c in commands]
    standin.register(Script([*turns, Reply(tool_use("finish", {"summary": "survived"}))], key=tag))
    async with Runtime.open(settings) as rt:
        session = await run_to_end(rt, remote, f"{tag} misbehave", timeout_s=100)
        results = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, ToolResult)]
    assert (session.status, session.summary) == ("finished", "survived")
    bomb, flood, endless, _finish = (r.output for r in results)
    assert "process limit: forks were refused" in bomb
    assert "[killed: the command printed more than 50000000 bytes]" in flood
    assert "[killed after 3 s: the command timed out]" in endless


QUOTA = 20 * 1024**2


async def test_a_session_over_its_disk_quota_is_stopped_until_it_frees_space(tmp_path: Path) -> None:
    sb = await provider(tmp_path, disk_quota_bytes=QUOTA).create(SandboxSpec(session_id="s1"))
    # Past the quota, then waiting: the measurement during the command finds it and kills it.
    filler = await sb.exec("head -c 41943040 /dev/zero > big.bin; sleep 60", timeout_s=60)
    assert filler.exit_code is None and not filler.timed_out
    assert filler.output.endswith(
        "[killed: the sandbox uses 40 MiB of its 20 MiB disk quota; delete files (rm) to free space]\n"
    )
    # Over the quota, a command runs but cannot grow a file, and is told why.
    refused = await sb.exec("echo more > small.txt")
    assert refused.output.startswith(
        "[the sandbox uses 40 MiB of its 20 MiB disk quota: files cannot grow until you delete some (rm)]\n"
    )
    assert refused.exit_code == 153  # 128 + SIGXFSZ
    assert (tmp_path / "sandboxes/s1/workspace/small.txt").stat().st_size == 0
    # Deleting is what it may do; then commands write again.
    freed = await sb.exec("rm big.bin && echo freed")
    assert freed.output.endswith("freed\n")
    again = await sb.exec("echo more > small.txt && cat small.txt")
    assert (again.exit_code, again.output) == (0, "more\n")
    await sb.terminate()


async def test_other_sessions_are_not_affected_by_one_over_its_quota(tmp_path: Path) -> None:
    sandboxes = provider(tmp_path, disk_quota_bytes=QUOTA)
    full = await sandboxes.create(SandboxSpec(session_id="full"))
    other = await sandboxes.create(SandboxSpec(session_id="other"))
    await full.exec("head -c 41943040 /dev/zero > big.bin; sleep 60", timeout_s=60)
    result = await other.exec("head -c 10485760 /dev/zero > half.bin && echo written")
    assert (result.exit_code, result.output) == (0, "written\n")
    await full.terminate()
    await other.terminate()
