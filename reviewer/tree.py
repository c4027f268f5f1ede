"""The code at the PR's head, read from a git repository (a bare mirror is enough) or a directory on disk.

The reviewer never runs the PR's code and needs no sandbox: it only reads files."""

import asyncio
from pathlib import Path
from typing import Protocol

from control_plane.git import git

MAX_FILE_BYTES = 1_000_000
"""Bigger files are generated or vendored: not worth parsing, not worth showing the model."""
MAX_PYTHON_FILES = 20_000
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", "build", "dist"}


class SourceTree(Protocol):
    async def read(self, path: str) -> str | None:
        """The file's text, or None when it does not exist, is binary or is too big."""
        ...

    async def python_files(self) -> dict[str, str]:
        """Every Python file: path → text (the index the rules look things up in)."""
        ...


class GitTree:
    """One commit of a git repository."""

    def __init__(self, git_dir: Path, commit: str) -> None:
        self.git_dir, self.commit = git_dir, commit

    async def read(self, path: str) -> str | None:
        listing = await git("ls-tree", "-l", self.commit, "--", path, cwd=self.git_dir, timeout_s=60)
        if not listing.strip():
            return None
        meta = listing.split("\t", 1)[0].split()
        if meta[1] != "blob" or not meta[3].isdigit() or int(meta[3]) > MAX_FILE_BYTES:
            return None
        return _text(await _cat(self.git_dir, [meta[2]]))

    async def python_files(self) -> dict[str, str]:
        listing = await git("ls-tree", "-r", "-l", self.commit, cwd=self.git_dir, timeout_s=120)
        wanted: dict[str, str] = {}
        for line in listing.splitlines():
            meta, path = line.split("\t", 1)
            _, kind, sha, size = meta.split()
            if kind == "blob" and path.endswith(".py") and size.isdigit() and int(size) <= MAX_FILE_BYTES:
                wanted[sha] = path
        blobs = await _cat_many(self.git_dir, list(wanted)[:MAX_PYTHON_FILES])
        return {wanted[sha]: text for sha, data in blobs.items() if (text := _text(data)) is not None}


class DirectoryTree:
    """A checkout on disk, as it is now (uncommitted changes included): for `nightshift review --diff`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    async def read(self, path: str) -> str | None:
        file = (self.root / path).resolve()
        if not file.is_relative_to(self.root) or not file.is_file() or file.stat().st_size > MAX_FILE_BYTES:
            return None
        return _text(file.read_bytes())

    async def python_files(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for file in sorted(self.root.rglob("*.py")):
            parts = file.relative_to(self.root).parts
            if _SKIP_DIRS.intersection(parts) or file.stat().st_size > MAX_FILE_BYTES:
                continue
            text = _text(file.read_bytes())
            if text is not None:
                found["/".join(parts)] = text
            if len(found) >= MAX_PYTHON_FILES:
                break
        return found


class EmptyTree:
    """No repository at hand: the rules see only what the diff itself shows."""

    async def read(self, path: str) -> str | None:
        return None

    async def python_files(self) -> dict[str, str]:
        return {}


def _text(data: bytes) -> str | None:
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


async def _cat(git_dir: Path, shas: list[str]) -> bytes:
    return (await _cat_many(git_dir, shas))[shas[0]]


async def _cat_many(git_dir: Path, shas: list[str]) -> dict[str, bytes]:
    """Many blobs in one `git cat-file --batch`: one process instead of one per file."""
    if not shas:
        return {}
    proc = await asyncio.create_subprocess_exec(
        "git", "cat-file", "--batch", cwd=git_dir, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate(("\n".join(shas) + "\n").encode())
    blobs: dict[str, bytes] = {}
    at = 0
    for sha in shas:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        blobs[sha] = out[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1
    return blobs
