"""A session's disk quota: its directory's usage measured with `du`, off the path of a command that stays under it.

Why measured, not enforced by a file system: a loop-mounted image per session needs root, a loop device per session
and mounts that outlive a crashed worker; project quotas need a file system prepared for them. A measurement works as
root or not, on any file system, and leaves snapshots and restores as plain copies. What it costs is a walk of the
session's tree (about 0.4 s for 100,000 files): it runs after each command in the background, and during a command
every few seconds (never more often than 10 times the last walk took, so at most ~10% of a core).

- during a command: over the quota, the command is killed with the usage in its output;
- after a command: measured in the background; the next command waits for it only if the last figure was over;
- over the quota, a command still runs, but with a file size limit of 0: it can delete files (rm) to get back
  under, and any write to a file fails with SIGXFSZ, the usage note in front of its output.

Overshoot is bounded by what a command writes between two measurements; nothing runs between commands (every
command's process group is killed when it ends), and RLIMIT_FSIZE still bounds a single file.
"""

import asyncio
import logging
import subprocess
import time
from pathlib import Path

from harness.errors import SandboxError
from harness.sandboxes._process import CommandRun

log = logging.getLogger(__name__)

_MIN_POLL_S = 1.0
_POLL_PER_WALK = 10


def size_text(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


class DiskQuota:
    def __init__(self, root: Path, limit_bytes: int) -> None:
        self._root = root
        self.limit_bytes = limit_bytes
        self._used_bytes: int | None = None
        self._walk_s = 0.0
        self._measuring: asyncio.Task[int] | None = None

    def message(self, used_bytes: int) -> str:
        return f"the sandbox uses {size_text(used_bytes)} of its {size_text(self.limit_bytes)} disk quota"

    async def over(self) -> int | None:
        """The usage, if over the quota. Exact when it matters: a figure over the quota (or none yet) is measured
        again, so a command that just freed space is seen."""
        if self._used_bytes is None or self._used_bytes > self.limit_bytes:
            await self.measure()
        assert self._used_bytes is not None
        return self._used_bytes if self._used_bytes > self.limit_bytes else None

    def measure_soon(self) -> None:
        """After a command: measure in the background (the next over() picks the figure up)."""
        if self._measuring is None or self._measuring.done():
            self._measuring = asyncio.create_task(self._walk())

    async def measure(self) -> int:
        if self._measuring is not None and not self._measuring.done():
            await self._measuring  # started before this command's writes ended: measure once more below
        self._measuring = asyncio.create_task(self._walk())
        return await self._measuring

    async def watch(self, run: CommandRun) -> None:
        """Runs beside a command until cancelled: kills it once the session is over its quota."""
        while True:
            await asyncio.sleep(max(_MIN_POLL_S, _POLL_PER_WALK * self._walk_s))
            used = await self.measure()
            if used > self.limit_bytes:
                run.kill(f"{self.message(used)}; delete files (rm) to free space")
                return

    async def close(self) -> None:
        if self._measuring is not None:
            self._measuring.cancel()
            await asyncio.gather(self._measuring, return_exceptions=True)

    async def _walk(self) -> int:
        # In a thread, not an asyncio subprocess: a sandbox dropped without terminate() (its worker moved on) leaves at
        # most a walk finishing on its own, never a child the closing event loop has to reap.
        started = time.monotonic()
        self._used_bytes = await asyncio.to_thread(_du, self._root)
        self._walk_s = time.monotonic() - started
        return self._used_bytes


def _du(root: Path) -> int:
    # -x: one file system; hard links (git's objects) counted once; blocks, not apparent sizes (sparse files).
    done = subprocess.run(["du", "-sxB1", "--", str(root)], capture_output=True, text=True)
    if done.returncode != 0 and not root.exists():
        return 0  # terminated while being measured: nothing left to count
    if not done.stdout:
        raise SandboxError(f"cannot measure the sandbox's disk usage: {done.stderr.strip()[-500:]}")
    if done.returncode != 0:
        # A command made a directory unreadable (chmod 000) to a worker that is not root: what du could read.
        log.warning("du of %s: %s", root, done.stderr.strip()[-500:])
    return int(done.stdout.split()[0])
