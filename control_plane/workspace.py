"""Moving code into and out of a sandbox with git bundles, so the sandbox needs no remote and no credentials.

seed:    mirror --bundle--> sandbox: a fresh repository checked out at the base commit.
collect: sandbox --commit, bundle--> mirror: the work as commits on top of the base.
"""

import shlex
import tempfile
from pathlib import Path

from control_plane.git import Mirrors
from harness.errors import SandboxError
from harness.sandboxes import Sandbox

BASE_REF = "refs/nightshift/base"
SEED = ".git/nightshift-seed.bundle"
OUT = ".git/nightshift-out.bundle"
IDENTITY = "git config user.name Nightshift && git config user.email nightshift@users.noreply.local"
# Build droppings the agent's test runs leave behind are never work, even in a repo without a .gitignore.
NEVER_COMMIT = ["__pycache__/", "*.py[cod]", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/"]
IDENTITY += " && printf '%s\\n' " + " ".join(f"'{p}'" for p in NEVER_COMMIT) + " >> .git/info/exclude"
NO_CHANGES = "NIGHTSHIFT-NO-CHANGES"
# A worker killed in the middle of a commit or a bundle leaves git's lock files behind, and every later attempt fails
# on them. Whoever collects holds the session's lease and the agent's loop has ended: nobody else is using them.
STALE_LOCKS = "find .git -name '*.lock' -type f -delete"


async def _sh(sandbox: Sandbox, command: str, what: str, timeout_s: float = 600) -> str:
    result = await sandbox.exec(command, timeout_s=timeout_s, output_limit_bytes=20_000)
    if result.exit_code != 0:
        raise SandboxError(f"{what} failed (exit {result.exit_code}): {result.output.strip()[-2000:]}")
    return result.output


async def seed(
    sandbox: Sandbox, mirrors: Mirrors, mirror: Path, commit: str, branch: str, *, upstream: str | None = None
) -> None:
    """`upstream` (a branch of the mirror) comes along as origin/<upstream>, so the agent can merge it in."""
    also = [f"refs/heads/{upstream}"] if upstream else []
    fetch_upstream = "".join(" " + shlex.quote(f"+{ref}:refs/remotes/origin/{upstream}") for ref in also)
    with tempfile.TemporaryDirectory(prefix="nightshift-seed-") as tmp:
        bundle = Path(tmp) / "seed.bundle"
        await mirrors.bundle(mirror, commit, BASE_REF, bundle, also=also)
        await _sh(sandbox, f"git init -q -b {shlex.quote(branch)} .", "git init")
        await sandbox.write_file(SEED, bundle.read_bytes())
    await _sh(
        sandbox,
        f"git fetch -q {SEED} +{BASE_REF}:{BASE_REF}{fetch_upstream} && git reset -q --hard {BASE_REF} && "
        f"rm -f {SEED} && {IDENTITY}",
        "checking out the base commit",
    )


async def collect(sandbox: Sandbox, mirrors: Mirrors, mirror: Path, dst_ref: str, message: str) -> str | None:
    """Commit what the agent left, bundle everything since the base; returns the commit, or None if unchanged."""
    msg = shlex.quote(message)
    out = await _sh(
        sandbox,
        f"{STALE_LOCKS} && git add -A && (git diff --cached --quiet || git commit -q --no-verify -m {msg}) && "
        f'if [ "$(git rev-list --count {BASE_REF}..HEAD)" = 0 ]; then echo {NO_CHANGES}; '
        f"else git bundle create -q {OUT} {BASE_REF}..HEAD; fi",
        "committing the work",
    )
    if NO_CHANGES in out:
        return None
    data = await sandbox.read_file(OUT, limit_bytes=2_000_000_000)
    with tempfile.TemporaryDirectory(prefix="nightshift-out-") as tmp:
        bundle = Path(tmp) / "out.bundle"
        bundle.write_bytes(data)
        return await mirrors.take(mirror, bundle, "HEAD", dst_ref)
