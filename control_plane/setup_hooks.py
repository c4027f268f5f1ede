"""A repo's own hooks: `.nightshift/setup.sh` (once per repo, script and base commit, then snapshotted) and
`.nightshift/start.sh` (at every session start). Each runs in the sandbox with its own timeout; a failure is
reported with its reason and the end of its output."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from control_plane.git import git
from harness.sandboxes import ExecResult, Sandbox

SETUP = ".nightshift/setup.sh"
START = ".nightshift/start.sh"
_SHOWN_BYTES = 4000
"""How much of a failing hook's output goes into the session log (its end: where the error usually is)."""


@dataclass(frozen=True)
class SetupScript:
    text: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


async def setup_script(mirror: Path, commit: str) -> SetupScript | None:
    """The setup script at `commit`, read from the control plane's mirror (before any sandbox exists)."""
    if not (await git("ls-tree", "--name-only", commit, "--", SETUP, cwd=mirror)).strip():
        return None
    return SetupScript(await git("show", f"{commit}:{SETUP}", cwd=mirror))


async def run_hook(sandbox: Sandbox, path: str, timeout_s: float) -> ExecResult:
    # The script as committed, run with bash from the repo root: no executable bit needed.
    return await sandbox.exec(f"bash {path}", timeout_s=timeout_s, output_limit_bytes=2 * _SHOWN_BYTES)


async def has_hook(sandbox: Sandbox, path: str) -> bool:
    return (await sandbox.exec(f"test -f {path}", timeout_s=30)).exit_code == 0


def failure(path: str, result: ExecResult, timeout_s: float) -> str | None:
    """What to tell people when a hook failed (reason, then the end of its output), or None when it passed."""
    if result.exit_code == 0:
        return None
    reason = f"timed out after {timeout_s:g}s" if result.timed_out else f"exited with status {result.exit_code}"
    shown = result.output.strip()[-_SHOWN_BYTES:]
    return f"{path} failed: {reason}\n{shown}".rstrip()
