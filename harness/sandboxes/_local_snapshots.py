"""Local snapshots: a copy of a session's workspace and home under <root_dir>/.snapshots/<ref>/.

Copies use `cp -a --reflink=auto`: copy-on-write on filesystems that have it (btrfs, xfs), a plain copy elsewhere.
Not hard links: a restored workspace is edited in place, and a hard link would carry the edit into the snapshot.
The session's spec.json (its env, which may hold scoped secrets) is never copied.
"""

import shutil
import subprocess
import uuid
from pathlib import Path

from harness.errors import SandboxError

DIR_NAME = ".snapshots"
"""Under the provider's root_dir, which bwrap hides from every sandbox; not a valid session id (leading dot)."""
_CONTENT = ("workspace", "home")


def take(session_root: Path, snapshots: Path) -> str:
    ref = uuid.uuid4().hex[:16]
    partial = snapshots / f"{ref}.partial"
    partial.mkdir(parents=True)
    for name in _CONTENT:
        _copy(session_root / name, partial / name)
    partial.rename(snapshots / ref)  # only complete snapshots ever carry a plain ref name
    return ref


def restore(snapshots: Path, ref: str, session_root: Path) -> None:
    source = _existing(snapshots, ref)
    session_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in _CONTENT:
        target = session_root / name
        if target.exists():
            shutil.rmtree(target)
        _copy(source / name, target)


def delete(snapshots: Path, ref: str) -> None:
    path = snapshots / ref
    if path.exists():
        shutil.rmtree(_existing(snapshots, ref))


def _existing(snapshots: Path, ref: str) -> Path:
    path = snapshots / ref
    if "/" in ref or ref.startswith(".") or not path.is_dir():
        raise SandboxError(f"no local snapshot {ref!r}")
    return path


def _copy(src: Path, dst: Path) -> None:
    done = subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(dst)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxError(f"copying {src.name} for a snapshot failed: {done.stderr.strip()[-500:]}")
