"""Task repositories on this machine: a bare repo the session clones from and pushes to, and fresh checkouts of it."""

import shutil
import subprocess
from pathlib import Path

from harness.errors import ConfigError

_IDENTITY = ["-c", "user.name=Nightshift evals", "-c", "user.email=evals@nightshift.invalid"]


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *_IDENTITY, *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def bare_from_files(files: Path, dest: Path) -> Path:
    """Commit a folder of files as `main` of a new bare repository at dest."""
    src = dest.with_name(dest.name + "-src")
    shutil.copytree(files, src)
    git("init", "-q", "-b", "main", cwd=src)
    git("add", "-A", cwd=src)
    git("commit", "-q", "-m", "task repository", cwd=src)
    git("clone", "-q", "--bare", str(src), str(dest))
    shutil.rmtree(src)
    return dest


def bare_from_url(url: str, commit: str, dest: Path) -> Path:
    """A private bare clone of url with `main` at commit, so the session's pushes stay on this machine."""
    git("clone", "-q", "--bare", url, str(dest))
    git("--git-dir", str(dest), "cat-file", "-e", f"{commit}^{{commit}}")
    git("--git-dir", str(dest), "update-ref", "refs/heads/main", commit)
    git("--git-dir", str(dest), "symbolic-ref", "HEAD", "refs/heads/main")
    return dest


def checkout(bare: Path, ref: str, dest: Path) -> Path:
    """A fresh working copy of bare at ref (a branch the session pushed, or main)."""
    git("clone", "-q", str(bare), str(dest))
    git("checkout", "-q", "--detach", f"origin/{ref}" if ref != "HEAD" else "HEAD", cwd=dest)
    return dest


def diff(bare: Path, base: str, head: str) -> str:
    """The patch from base to head, as `git apply` takes it."""
    done = subprocess.run(
        ["git", "--git-dir", str(bare), "diff", "--binary", base, head], capture_output=True, text=True, check=True
    )
    return done.stdout
