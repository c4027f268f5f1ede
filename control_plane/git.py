"""Git on the control plane's side: check a repository, keep a bare mirror of it, make and take bundles,
push. Credentials (when configured) are used here only; the sandbox never has a remote at all."""

import asyncio
import fcntl
import hashlib
import itertools
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from control_plane.errors import BadRequest, GitError, RepoUnreachable

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "LC_ALL": "C"}


class GitCredentials(Protocol):
    """Implemented by integrations that own a forge's credentials (integrations/github)."""

    async def env_for(self, repo: str) -> dict[str, str]:
        """Extra environment for one git command talking to `repo` (an auth header through GIT_CONFIG_*),
        empty when no credential applies. Never a token in a URL, an argument or a config file."""
        ...


async def git(*args: str, cwd: Path | None = None, timeout_s: float = 600, env: Mapping[str, str] | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **_GIT_ENV, **(env or {})},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise GitError(args[0], f"timed out after {timeout_s:.0f}s") from None
    if proc.returncode != 0:
        raise GitError(args[0], err.decode(errors="replace"))
    return out.decode(errors="replace")


def normalize_repo(repo: str) -> str:
    """An existing local path becomes absolute (so workers anywhere on this machine find it); URLs stay."""
    path = Path(repo).expanduser()
    if "://" not in repo and not repo.startswith("git@") and path.exists():
        return str(path.resolve())
    return repo


async def check_repo(
    repo: str, base: str | None, *, timeout_s: float = 30, env: Mapping[str, str] | None = None
) -> None:
    """Fail fast, before anything is created, when the repo or the base ref does not exist."""
    try:
        listing = await git("ls-remote", "--", repo, timeout_s=timeout_s, env=env)
    except GitError as e:
        raise RepoUnreachable(f"cannot reach repository {repo!r}: {e.stderr.strip()[-500:] or e}") from e
    if not listing.strip():
        raise BadRequest(f"repository {repo!r} is empty: there is nothing to start from")
    if base is None or _looks_like_sha(base):
        return
    refs = {line.split("\t")[1] for line in listing.splitlines() if "\t" in line}
    if not {base, f"refs/heads/{base}", f"refs/tags/{base}"} & refs:
        raise BadRequest(f"base {base!r} is not a branch or tag of {repo!r}")


def _looks_like_sha(ref: str) -> bool:
    return 7 <= len(ref) <= 40 and all(c in "0123456789abcdef" for c in ref)


class Mirrors:
    """One bare mirror per repository under data_dir/mirrors, fetched before each run."""

    def __init__(self, root: Path, credentials: GitCredentials | None = None) -> None:
        self.root = root
        self.credentials = credentials
        self._ticks = itertools.count()
        self._fetching: dict[tuple[Path, tuple[str, ...]], asyncio.Lock] = {}
        self._fetched: dict[tuple[Path, tuple[str, ...]], int] = {}
        """The tick at which the last successful fetch of a mirror (with those extra refs) began."""

    async def _env(self, repo: str) -> dict[str, str]:
        return await self.credentials.env_for(repo) if self.credentials else {}

    def path(self, repo: str) -> Path:
        return self.root / (hashlib.sha256(repo.encode()).hexdigest()[:24] + ".git")

    async def refresh(self, repo: str, *, refs: Sequence[str] = ()) -> Path:
        """Clone or fetch branches and tags, plus `refs` outside them (a pull request's refs/pull/N/head).

        Callers in this process share fetches: one that began after a caller arrived is as fresh as its own would be,
        so a burst of 200 sessions on one repository costs two fetches, not 200 in a row under the file lock."""
        mirror = self.path(repo)
        key = (mirror, tuple(refs))
        arrived = next(self._ticks)
        async with self._fetching.setdefault(key, asyncio.Lock()):
            if self._fetched.get(key, -1) > arrived:
                return mirror
            began = next(self._ticks)
            await self._fetch(repo, mirror, refs)
            self._fetched[key] = began
        return mirror

    async def _fetch(self, repo: str, mirror: Path, refs: Sequence[str]) -> None:
        env = await self._env(repo)
        extra = [f"+{ref}:{ref}" for ref in refs]
        async with _file_lock(mirror.with_suffix(".lock")):
            if not (mirror / "HEAD").exists():
                await git("clone", "--bare", "--quiet", "--", repo, str(mirror), env=env)
                if extra:
                    await git("fetch", "--quiet", "--", repo, *extra, cwd=mirror, env=env)
            else:
                await git(
                    "fetch",
                    "--quiet",
                    "--prune",
                    "--",
                    repo,
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                    *extra,
                    cwd=mirror,
                    env=env,
                )

    async def resolve(self, mirror: Path, base: str | None) -> str:
        ref = base or "HEAD"
        try:
            return (await git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=mirror)).strip()
        except GitError as e:
            raise BadRequest(f"base {ref!r} is not a commit in the repository") from e

    async def commit_of(self, mirror: Path, ref: str) -> str | None:
        try:
            return (await git("rev-parse", "--verify", "--quiet", ref, cwd=mirror)).strip()
        except GitError:
            return None  # rev-parse --verify --quiet fails exactly when the ref does not exist

    async def bundle(self, mirror: Path, commit: str, ref: str, out: Path, *, also: Sequence[str] = ()) -> None:
        """A bundle of `commit` with its history, under the name `ref`, for seeding a sandbox; `also` are refs
        of the mirror bundled with it under their own names (a PR's base branch, to merge with)."""
        await git("update-ref", ref, commit, cwd=mirror)
        await git("bundle", "create", "--quiet", str(out), ref, *also, cwd=mirror)

    async def take(self, mirror: Path, bundle: Path, src_ref: str, dst_ref: str) -> str:
        """Fetch a sandbox's work (a bundle) into the mirror under `dst_ref`; returns its commit."""
        await git("fetch", "--quiet", str(bundle), f"+{src_ref}:{dst_ref}", cwd=mirror)
        return (await git("rev-parse", dst_ref, cwd=mirror)).strip()

    async def default_branch(self, repo: str) -> str | None:
        """The branch the remote's HEAD names now (None when it names none), asked of the remote, not the mirror."""
        listing = await git("ls-remote", "--symref", "--", repo, "HEAD", timeout_s=60, env=await self._env(repo))
        for line in listing.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line.removeprefix("ref: refs/heads/").removesuffix("\tHEAD")
        return None

    async def push(self, mirror: Path, repo: str, ref: str, branch: str) -> None:
        """Only through control_plane.push_policy.PushPolicy, which decides whether `branch` may be pushed to."""
        await git("push", "--quiet", "--", repo, f"{ref}:refs/heads/{branch}", cwd=mirror, env=await self._env(repo))


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    """Serialise mirror updates across workers and processes on this machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
