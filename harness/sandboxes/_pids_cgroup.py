"""A pids cgroup per command: the process cap that also holds when the control plane runs as root.

RLIMIT_NPROC (set with prlimit) bounds a fork bomb for an ordinary user, but the kernel never applies it to uid 0.
A cgroup's pids.max applies to everyone. Works with a cgroup v1 pids hierarchy or a delegated cgroup v2 subtree
with the pids controller enabled: both have `pids.max`, `pids.events` and `cgroup.procs`.
"""

import asyncio
import contextlib
import errno
import os
import signal
import uuid
from pathlib import Path

from harness.errors import SandboxError

_EMPTY_WAIT_S = 10.0
_POLL_S = 0.02


class PidsCgroup:
    def __init__(self, parent: Path, max_pids: int) -> None:
        self.path = parent / f"cmd-{uuid.uuid4().hex}"
        self._max_pids = max_pids

    def create(self) -> None:
        try:
            self.path.mkdir(parents=True)
            (self.path / "pids.max").write_text(str(self._max_pids))
        except OSError as e:
            raise SandboxError(f"cannot create the pids cgroup {self.path}: {e.strerror}") from e

    def wrap(self, argv: list[str]) -> list[str]:
        """argv run inside the cgroup: the shell joins it, then execs argv, so every descendant is counted."""
        join = 'echo $$ > "$0" && exec "$@"'
        return ["sh", "-c", join, str(self.path / "cgroup.procs"), *argv]

    def hit_limit(self) -> bool:
        events = (self.path / "pids.events").read_text().split()
        return int(events[events.index("max") + 1]) > 0

    async def remove(self) -> None:
        """Kill whatever is left in the cgroup and remove it; raises when something outlives the kill."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _EMPTY_WAIT_S
        while True:
            pids = (self.path / "cgroup.procs").read_text().split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            try:
                os.rmdir(self.path)
                return
            except OSError as e:
                # EBUSY: killed processes still counted while they exit
                if e.errno != errno.EBUSY or loop.time() > deadline:
                    raise SandboxError(f"cannot remove {self.path} (processes {pids[:5]} left): {e.strerror}") from e
            await asyncio.sleep(_POLL_S)
