"""A repository's own Nightshift configuration, read from the control plane's mirror of it (never from a
sandbox, never with credentials): `.nightshift/`, AGENTS.md and CLAUDE.md on the default branch."""

from dataclasses import dataclass
from pathlib import Path

from control_plane.errors import GitError
from control_plane.git import Mirrors, git

CONFIG_PATHS = (".nightshift", "AGENTS.md", "CLAUDE.md")
MAX_SHOWN_BYTES = 20_000


@dataclass(frozen=True)
class RepoFile:
    path: str
    size: int
    text: str | None
    """None when binary or larger than MAX_SHOWN_BYTES."""


async def repo_config(mirrors: Mirrors, repo: str) -> list[RepoFile] | None:
    """The files, or None when no session has fetched the repository yet (there is no mirror to read)."""
    mirror = mirrors.path(repo)
    if not (mirror / "HEAD").exists():
        return None
    try:
        listing = await git("ls-tree", "-r", "-l", "HEAD", "--", *CONFIG_PATHS, cwd=mirror, timeout_s=30)
    except GitError as e:
        if "Not a valid object name HEAD" in e.stderr:
            return []  # an empty mirror: nothing on the default branch yet
        raise
    return [await _file(mirror, line) for line in listing.splitlines() if line.strip()]


async def _file(mirror: Path, line: str) -> RepoFile:
    meta, path = line.split("\t", 1)
    size_field = meta.split()[3]
    size = int(size_field) if size_field.isdigit() else 0
    if size > MAX_SHOWN_BYTES:
        return RepoFile(path, size, None)
    data = await git("show", f"HEAD:{path}", cwd=mirror, timeout_s=30)
    return RepoFile(path, size, None if "\0" in data else data)
