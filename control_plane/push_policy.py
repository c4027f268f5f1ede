"""Where the control plane may push a session's work, checked before every push (runner.py is the only caller).

Allowed: the branch the session owns, `nightshift/<slug>-<its id>` (the id from the record's Redis key, never from
a field in it), or the head branch of the pull request the session was started on, as the forge says at push time.
Never the repository's default branch, never a branch named for another session. The session record is data, not
authority: a `branch` edited behind the control plane's back (a sandboxed command that reached Redis) is refused.
"""

import re
from pathlib import Path
from typing import Protocol

from control_plane.errors import PushRefused
from control_plane.git import Mirrors
from control_plane.models import Session, slug

_SESSION_BRANCH = re.compile(r"nightshift/[a-z0-9-]+-([0-9a-f]{12})")
"""A branch named for a session: the suffix is a session id (uuid4 hex, 12 digits)."""


class PullRequestHeads(Protocol):
    """Implemented by the forge's integration (integrations/github): what the forge says now, not what we stored."""

    async def head_branch(self, origin: str, repo: str) -> str | None:
        """The head branch of the pull request `origin` stands for, when that PR belongs to `repo` (the URL we push
        to) and its head branch lives in `repo` too; None for anything else (an issue, a fork's PR, no such PR)."""
        ...


def owned_branch(title: str, session_id: str) -> str:
    """The branch a new session pushes to unless it works on a pull request's own branch."""
    return f"nightshift/{slug(title)}-{session_id}"


class PushPolicy:
    def __init__(self, mirrors: Mirrors, forge: PullRequestHeads | None) -> None:
        self.mirrors, self.forge = mirrors, forge

    async def push(self, session: Session, mirror: Path, ref: str) -> None:
        """Push `ref` of the session's mirror to its branch, or raise PushRefused with nothing pushed."""
        await self.check(session)
        await self.mirrors.push(mirror, session.repo, ref, session.branch)

    async def check(self, session: Session) -> None:
        branch = session.branch
        named = _SESSION_BRANCH.fullmatch(branch)
        if named is not None and named[1] == session.id:
            return
        if named is not None:
            raise PushRefused(f"refused to push to {branch!r}: that branch belongs to session {named[1]}")
        head = await self.forge.head_branch(session.origin, session.repo) if self.forge and session.origin else None
        if head != branch:
            raise PushRefused(
                f"refused to push to {branch!r}: session {session.id} may push only to its own "
                f"nightshift/…-{session.id} branch"
                + (f" or to the head branch of the pull request it was started on ({head!r})" if head else "")
            )
        if branch == await self.mirrors.default_branch(session.repo):
            raise PushRefused(f"refused to push to {branch!r}: it is the repository's default branch")
