"""Scoring a task's outcome: keep.sh, then the hidden files and check.sh, run on a checkout of the pushed work.

The checks run code the agent wrote, so they run in a local sandbox of their own (bubblewrap where present: the host
read-only, the data dir and HOME hidden, no network), never on the host with its files. The checkout goes in as a
tar; the hidden files land only after keep.sh. The session's final report is in the file $EVAL_SUMMARY (triage tasks
grep it)."""

import asyncio
import io
import tarfile
import uuid
from pathlib import Path

from pydantic import BaseModel

from evals.suite import Task
from harness.errors import SandboxError
from harness.sandboxes.base import NetworkPolicy, Sandbox, SandboxSpec
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider

CHECK_TIMEOUT_S = 300.0
OUTPUT_LIMIT_BYTES = 20_000
OUTPUT_TAIL_CHARS = 2000


class ScriptResult(BaseModel):
    passed: bool
    output: str
    """The end of what the script printed."""


class CheckResult(BaseModel):
    hidden: ScriptResult
    kept: ScriptResult | None = None
    """keep.sh's result; None when the task has none."""

    @property
    def passed(self) -> bool:
        return self.hidden.passed and (self.kept is None or self.kept.passed)


def check_sandboxes(root: Path) -> LocalSandboxProvider:
    """Where checks run: a sandbox per check under root, no network; it sees /usr and a minimal /etc, not the host's
    home, data dir or config."""
    return LocalSandboxProvider(LocalSandboxConfig(root_dir=root))


async def run_check(task: Task, checkout: Path, summary: str, sandboxes: LocalSandboxProvider) -> CheckResult:
    spec = SandboxSpec(session_id=f"check-{uuid.uuid4().hex[:12]}", network=NetworkPolicy(mode="blocked"))
    sandbox = await sandboxes.create(spec)
    try:
        await _unpack(sandbox, checkout, "repo")
        await sandbox.write_file("eval/summary.md", summary.encode())
        await sandbox.write_file("eval/check.sh", task.check_script.read_bytes())
        keep = task.keep_script
        kept = None
        if keep is not None:
            await sandbox.write_file("eval/keep.sh", keep.read_bytes())
            kept = await _script(sandbox, "keep.sh")
        if task.hidden_dir.is_dir():
            await _unpack(sandbox, task.hidden_dir, "repo")
        return CheckResult(hidden=await _script(sandbox, "check.sh"), kept=kept)
    finally:
        await sandbox.terminate()


async def _unpack(sandbox: Sandbox, folder: Path, into: str) -> None:
    await sandbox.write_file("eval/in.tar", await asyncio.to_thread(_tar, folder))
    done = await sandbox.exec(f"mkdir -p {into} && tar -xf eval/in.tar -C {into} && rm eval/in.tar")
    if done.exit_code != 0:
        raise SandboxError(f"could not unpack {folder.name} into the check sandbox: {done.output}")


def _tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


async def _script(sandbox: Sandbox, name: str) -> ScriptResult:
    env = {"EVAL_SUMMARY": f"{sandbox.workdir}/eval/summary.md"}
    done = await sandbox.exec(
        f"bash ../eval/{name}", cwd="repo", timeout_s=CHECK_TIMEOUT_S, output_limit_bytes=OUTPUT_LIMIT_BYTES, env=env
    )
    output = done.output[-OUTPUT_TAIL_CHARS:]
    if done.timed_out:
        output += f"\n{name} ran past {CHECK_TIMEOUT_S:.0f} s"
    return ScriptResult(passed=done.exit_code == 0, output=output)
