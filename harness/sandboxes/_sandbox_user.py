"""The host uid a session's commands run as: its own unprivileged uid when the worker is root, else the worker's.

A worker running as root gives each session a uid (and a gid of the same number) from a configured range, claimed in
<session>/uid and released when the session's directory is removed. One uid per session rather than one shared:
RLIMIT_NPROC counts the processes of a real uid across the whole host, so a shared uid would let one session's fork
bomb starve the others; and a bind-mount mistake between sessions exposes nothing, since the session dirs are 0700
and owned by different uids. bwrap still runs as root (the data dir may sit under a 0700 home no other user can
traverse); `setpriv` drops to the uid inside the sandbox, after the mounts are made.
"""

import fcntl
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SandboxError

UID_FILE = "uid"
_LOCK_FILE = ".uids.lock"


@dataclass(frozen=True)
class UidRange:
    first: int
    count: int

    def __contains__(self, uid: int) -> bool:
        return self.first <= uid < self.first + self.count


def worker_is_root() -> bool:
    return os.geteuid() == 0


def claim(root_dir: Path, session_root: Path, uids: UidRange) -> int:
    """The session's uid: the one it has, or the lowest of the range no other session under root_dir holds."""
    held = _read_uid(session_root)
    if held is not None:
        return held
    root_dir.mkdir(parents=True, exist_ok=True)
    # An exclusive lock across worker processes: two sessions created at once must not pick the same free uid.
    with open(root_dir / _LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        used = {uid for entry in os.scandir(root_dir) if (uid := _read_uid(Path(entry.path))) is not None}
        uid = next((u for u in range(uids.first, uids.first + uids.count) if u not in used), None)
        if uid is None:
            raise SandboxError(f"all {uids.count} sandbox uids from {uids.first} are in use: raise sandbox_uid_count")
        session_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        (session_root / UID_FILE).write_text(str(uid))
    return uid


def _read_uid(session_root: Path) -> int | None:
    try:
        return int((session_root / UID_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None


def own(path: Path, uid: int) -> None:
    """Give a tree to the sandbox user (a restored snapshot, taken from a session with another uid). Only the top is
    looked at first: a tree already owned by uid was made by the sandbox user or handed over whole before."""
    st = os.lstat(path)
    if (st.st_uid, st.st_gid) == (uid, uid):
        return
    # chown -R -h (no dereferencing): a symlink in the tree must not hand a host file to the sandbox user.
    done = subprocess.run(["chown", "-R", "-h", f"{uid}:{uid}", "--", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxError(f"cannot give {path.name} to the sandbox user {uid}: {done.stderr.strip()[-500:]}")


def drop_argv(uid: int) -> list[str]:
    """Run inside bwrap, as root, before the command: become uid with no groups, no capabilities (bounding set
    included, so nothing can be regained) and no_new_privs (setuid binaries do not elevate)."""
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]
