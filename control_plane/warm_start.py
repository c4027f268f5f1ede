"""Starting a session's sandbox warm: from the newest setup snapshot of its repo, fast-forwarded to the commit
it asked for; the setup hook runs (and is snapshotted) only when no usable snapshot exists.

    no .nightshift/setup.sh         create + seed from a git bundle (as before)
    usable snapshot                 restore it, fetch only the commits since its base, check out the branch
    none (or only incompatible)     one builder per (repo, script): seed, run setup.sh, snapshot, then as above
    setup.sh fails                  the failure (reason and output) goes into the log; the session starts cold

The snapshot's own sandbox gets no scoped env, so the user's secrets are never baked into a snapshot.
Readiness (the provider's spawn guard) is checked before setup.sh runs: setup time never counts against it.
"""

import shlex
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from control_plane import workspace
from control_plane.errors import GitError
from control_plane.git import Mirrors, git
from control_plane.sandbox_config import RepoSandboxConfig, for_repo
from control_plane.sandbox_state import SnapshotIndex, SnapshotRecord, incompatibility
from control_plane.setup_hooks import SETUP, START, SetupScript, failure, has_hook, run_hook, setup_script
from harness.errors import ConfigError, SandboxError
from harness.events import ErrorEvent, Event, Note
from harness.sandboxes import Sandbox, SandboxSpec
from harness.sandboxes.snapshots import SnapshotProvider

Log = Callable[[Event], Awaitable[object]]
_SETUP_BRANCH = "nightshift-setup"


@dataclass(frozen=True)
class Started:
    sandbox: Sandbox
    warm: bool
    """Restored from a setup snapshot rather than created and seeded."""


@dataclass
class SandboxStarts:
    provider: SnapshotProvider
    mirrors: Mirrors
    index: SnapshotIndex
    repos: Mapping[str, RepoSandboxConfig]
    setup_timeout_s: float
    start_timeout_s: float

    async def open(
        self, session_id: str, repo: str, branch: str, mirror: Path, commit: str, upstream: str | None, log: Log
    ) -> Started:
        """A new sandbox for the session with its branch checked out at `commit`."""
        config = for_repo(self.repos, repo)
        spec = SandboxSpec(session_id=session_id, env=config.plain_env(), network=config.network)
        script = await setup_script(mirror, commit)
        snapshot = None if script is None else await self.snapshot_for(repo, mirror, commit, script, log)
        if snapshot is not None:
            try:
                sandbox = await self.provider.restore(spec, snapshot.ref)
            except SandboxError as e:  # expired on the provider's side (Modal's ttl) or removed by hand
                await log(ErrorEvent(message=f"snapshot {snapshot.id} could not be restored ({e}); starting cold"))
                await self.index.remove(snapshot)
            else:
                await log(Note(text=f"started from snapshot {snapshot.id} (setup ran at {snapshot.base_commit[:12]})"))
                await fast_forward(sandbox, mirror, snapshot.base_commit, commit, branch, upstream)
                return Started(sandbox, warm=True)
        sandbox = await self.provider.create(spec)
        await workspace.seed(sandbox, self.mirrors, mirror, commit, branch, upstream=upstream)
        return Started(sandbox, warm=False)

    async def start_hook(self, sandbox: Sandbox, log: Log) -> None:
        """`.nightshift/start.sh`, at every session start; a failure is reported and the session goes on."""
        if not await has_hook(sandbox, START):
            return
        result = await run_hook(sandbox, START, self.start_timeout_s)
        problem = failure(START, result, self.start_timeout_s)
        await log(ErrorEvent(message=problem) if problem else Note(text=f"{START} ran in {result.duration_ms}ms"))

    async def snapshot_for(
        self, repo: str, mirror: Path, commit: str, script: SetupScript, log: Log
    ) -> SnapshotRecord | None:
        found = await self._usable(repo, mirror, commit, script, log)
        if found is not None:
            return found
        async with self.index.build_lock(repo, script.hash, ttl_s=self.setup_timeout_s + 600):
            # Another worker may have built it while we waited for the lock.
            found = await self._usable(repo, mirror, commit, script, log)
            return found or await self.build(repo, mirror, commit, script, log)

    async def prepare(self, repo: str, base: str | None, log: Log) -> SnapshotRecord | None:
        """`nightshift sandbox prepare`: the snapshot for the repo's base commit, built unless it exists."""
        mirror = await self.mirrors.refresh(repo)
        commit = await self.mirrors.resolve(mirror, base)
        script = await setup_script(mirror, commit)
        if script is None:
            raise ConfigError(f"{repo} has no {SETUP} at {commit[:12]}: there is nothing to prepare")
        async with self.index.build_lock(repo, script.hash, ttl_s=self.setup_timeout_s + 600):
            for record in await self.index.for_setup(repo, script.hash):
                if record.base_commit == commit and not self.refused(record):
                    await log(Note(text=f"snapshot {record.id} for {commit[:12]} exists already"))
                    return record
            return await self.build(repo, mirror, commit, script, log)

    async def build(self, repo: str, mirror: Path, commit: str, script: SetupScript, log: Log) -> SnapshotRecord | None:
        # No env: scoped secrets must never end up in a snapshot that every later session starts from.
        spec = SandboxSpec(session_id=f"setup-{uuid.uuid4().hex[:12]}", network=for_repo(self.repos, repo).network)
        await log(Note(text=f"running {SETUP} at {commit[:12]} (once per setup script and base commit)"))
        sandbox = await self.provider.create(spec)
        try:
            await workspace.seed(sandbox, self.mirrors, mirror, commit, _SETUP_BRANCH)
            started = time.monotonic()
            result = await run_hook(sandbox, SETUP, self.setup_timeout_s)
            setup_s = time.monotonic() - started
            problem = failure(SETUP, result, self.setup_timeout_s)
            if problem is not None:
                await log(ErrorEvent(message=f"{problem}\n(no snapshot was made; the session starts without setup)"))
                return None
            ref = await sandbox.snapshot()
        finally:
            await sandbox.terminate()
        record = SnapshotRecord(
            id=uuid.uuid4().hex[:12],
            provider=self.provider.name,
            runtime=self.provider.runtime,
            ref=ref,
            repo=repo,
            setup_hash=script.hash,
            base_commit=commit,
            created_at=time.time(),
            setup_s=setup_s,
        )
        await self.index.add(record)
        await log(Note(text=f"{SETUP} took {setup_s:.1f}s; snapshot {record.id} saved"))
        return record

    async def forget(self, record: SnapshotRecord) -> None:
        await self.index.remove(record)
        if record.provider == self.provider.name:
            await self.provider.delete_snapshot(record.ref)

    async def _usable(
        self, repo: str, mirror: Path, commit: str, script: SetupScript, log: Log
    ) -> SnapshotRecord | None:
        """The newest compatible snapshot whose base is an ancestor of `commit`; incompatible ones are removed."""
        for record in await self.index.for_setup(repo, script.hash):
            reason = self.refused(record)
            if reason is not None:
                await log(Note(text=f"snapshot {record.id} refused: {reason}; removing it, a new one is built"))
                await self.forget(record)
                continue
            if await _is_ancestor(mirror, record.base_commit, commit):
                return record
        return None

    def refused(self, record: SnapshotRecord) -> str | None:
        return incompatibility(record, self.provider.name, self.provider.runtime)


async def fast_forward(
    sandbox: Sandbox, mirror: Path, have: str, commit: str, branch: str, upstream: str | None
) -> None:
    """Bring a restored workspace from the snapshot's commit to `commit`: only the missing commits travel."""
    also = [f"refs/heads/{upstream}"] if upstream else []
    fetch = ""
    if commit != have or also:
        with tempfile.TemporaryDirectory(prefix="nightshift-ff-") as tmp:
            bundle = Path(tmp) / "ff.bundle"
            await git("update-ref", workspace.BASE_REF, commit, cwd=mirror)
            await git("bundle", "create", "--quiet", str(bundle), workspace.BASE_REF, *also, f"^{have}", cwd=mirror)
            await sandbox.write_file(workspace.SEED, bundle.read_bytes())
        refspecs = [f"+{workspace.BASE_REF}:{workspace.BASE_REF}"]
        refspecs += [f"+{ref}:refs/remotes/origin/{upstream}" for ref in also]
        fetch = f"git fetch -q {workspace.SEED} {shlex.join(refspecs)} && rm -f {workspace.SEED} && "
    # -f: tracked files setup.sh changed are reset; untracked and ignored ones (dependencies, builds) stay.
    command = (
        f"{fetch}git checkout -q -f -B {shlex.quote(branch)} {workspace.BASE_REF} && "
        f"{{ git branch -q -D {_SETUP_BRANCH} 2>/dev/null || true; }}"
    )
    result = await sandbox.exec(command, timeout_s=600, output_limit_bytes=20_000)
    if result.exit_code != 0:
        raise SandboxError(f"fast-forwarding the snapshot to {commit[:12]} failed: {result.output.strip()[-2000:]}")


async def _is_ancestor(mirror: Path, ancestor: str, commit: str) -> bool:
    try:
        await git("merge-base", "--is-ancestor", ancestor, commit, cwd=mirror)
    except GitError:
        return False  # exit 1: not an ancestor; 128: a commit the mirror no longer has (either way: unusable)
    return True
