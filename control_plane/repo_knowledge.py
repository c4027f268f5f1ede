"""What an agent will be told about a repository, read on the control plane's side from the bare mirror (for
`nightshift skills list`), with the same discovery code the session runs on its sandbox (harness.skills)."""

from pathlib import Path

from control_plane.errors import GitError
from control_plane.git import Mirrors, git
from harness.skills import KnowledgeLimits, RepoKnowledge, builtin_skills, repo_knowledge

_SYMLINK = "120000"


class MirrorFiles:
    """RepoFiles over one commit of a bare mirror."""

    def __init__(self, mirror: Path, commit: str) -> None:
        self.mirror, self.commit = mirror, commit

    async def read(self, path: str) -> bytes | None:
        entry = await self._entry(path)
        if entry is None:
            return None
        mode, blob = entry
        if mode == _SYMLINK:  # CLAUDE.md -> AGENTS.md: git stores the target path; read the target once
            target = (await self._blob(blob)).decode().strip()
            followed = await self._entry(str(Path(path).parent / target))
            return None if followed is None or followed[0] == _SYMLINK else await self._blob(followed[1])
        return await self._blob(blob)

    async def list_dir(self, path: str) -> list[str]:
        if not await self._is_dir(path):
            return []
        listing = await git("ls-tree", "-z", f"{self.commit}:{path}", cwd=self.mirror)
        entries = [item.partition("\t") for item in listing.split("\0") if item]
        return [name for meta, _, name in entries if meta.split()[1] == "blob"]

    async def _is_dir(self, path: str) -> bool:
        try:
            kind = await git("cat-file", "-t", f"{self.commit}:{path}", cwd=self.mirror)
        except GitError:
            return False  # no such path at this commit
        return kind.strip() == "tree"

    async def _entry(self, path: str) -> tuple[str, str] | None:
        """(mode, blob id) of a file at the commit, or None."""
        listing = await git("ls-tree", "-z", self.commit, "--", path, cwd=self.mirror)
        for item in listing.split("\0"):
            meta, _, name = item.partition("\t")
            if name == path and meta.split()[1] == "blob":
                mode, _, blob = meta.split()
                return mode, blob
        return None

    async def _blob(self, blob: str) -> bytes:
        return (await git("cat-file", "blob", blob, cwd=self.mirror)).encode()


async def knowledge_at(mirrors: Mirrors, repo: str, ref: str | None, limits: KnowledgeLimits) -> RepoKnowledge:
    """What a session starting from `ref` (default: the default branch) of `repo` is told."""
    mirror = await mirrors.refresh(repo)
    commit = await mirrors.resolve(mirror, ref)
    return await repo_knowledge(MirrorFiles(mirror, commit), builtin_skills(), limits)
