"""Scoring a task's outcome: copy the hidden files into a checkout, then run check.sh (and keep.sh) there.

The scripts run on this machine with an environment built from nothing but PATH and a throwaway HOME: no
platform secret reaches them. The session's final report is in the file $EVAL_SUMMARY (triage tasks grep it)."""

import asyncio
import shutil
from pathlib import Path

from pydantic import BaseModel

from evals.suite import Task

CHECK_TIMEOUT_S = 300.0
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


async def run_check(task: Task, checkout: Path, summary: str) -> CheckResult:
    """Score a checkout: keep.sh first (before the hidden files land), then the hidden files and check.sh."""
    scratch = checkout.with_name(checkout.name + "-check")
    scratch.mkdir()
    (scratch / "summary.md").write_text(summary)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(scratch), "LANG": "C.UTF-8"}
    env["EVAL_SUMMARY"] = str(scratch / "summary.md")
    keep = task.keep_script
    kept = await _script(keep, checkout, env) if keep else None
    if task.hidden_dir.is_dir():
        shutil.copytree(task.hidden_dir, checkout, dirs_exist_ok=True)
    return CheckResult(hidden=await _script(task.check_script, checkout, env), kept=kept)


async def _script(script: Path, cwd: Path, env: dict[str, str]) -> ScriptResult:
    proc = await asyncio.create_subprocess_exec(
        "bash", str(script), cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return ScriptResult(passed=False, output=f"{script.name} ran past {CHECK_TIMEOUT_S:.0f} s")
    return ScriptResult(passed=proc.returncode == 0, output=out.decode(errors="replace")[-OUTPUT_TAIL_CHARS:])
