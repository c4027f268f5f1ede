"""Collecting the work from a sandbox that a killed worker left in the middle of a commit (found by the crash drill:
kill -9 during the run's publish left .git/*.lock files, and the resumed run failed on them)."""

from pathlib import Path

from control_plane import workspace
from control_plane.git import Mirrors
from harness.sandboxes import SandboxSpec
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider


async def test_collect_after_a_worker_died_mid_commit(tmp_path: Path, remote: Path) -> None:
    mirrors = Mirrors(tmp_path / "mirrors")
    mirror = await mirrors.refresh(str(remote))
    provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=tmp_path / "sandboxes", isolation="none"))
    sandbox = await provider.create(SandboxSpec(session_id="s1"))
    try:
        await workspace.seed(sandbox, mirrors, mirror, await mirrors.resolve(mirror, None), "nightshift/fix")
        await sandbox.write_file("calc.py", b"def add(a, b):\n    return a + b\n")
        dead = "touch .git/index.lock .git/nightshift-out.bundle.lock .git/refs/heads/nightshift/fix.lock"
        assert (await sandbox.exec(f"mkdir -p .git/refs/heads/nightshift && {dead}")).exit_code == 0
        commit = await workspace.collect(sandbox, mirrors, mirror, "refs/nightshift/collected", "fix add")
    finally:
        await sandbox.terminate()
    assert commit is not None
    shown = await mirrors.commit_of(mirror, "refs/nightshift/collected")
    assert shown == commit
