"""Sub-sessions on the control plane's side: the SubSessions an agent gets (start, list, message and collect its
children, within the configured limits), and the observer that wakes a parent once the children it waits for
have all ended.

A parent never blocks a worker while it waits: its run ends with status waiting_for_input, and the last child to
end posts a message that reopens it, like a person's follow-up would. Both sides check after their own status
change (the parent after it starts waiting, each child after it ends), so one of them always sees the other;
a key set once per waiting run keeps the wake-up single.
"""

import shlex
import tempfile
from pathlib import Path

from pydantic import BaseModel

from control_plane import keys
from control_plane.errors import NotFound
from control_plane.git import Mirrors
from control_plane.models import NewMessage, NewSession, Session
from control_plane.sessions import create_session, post_message
from control_plane.store import SessionStore
from harness.errors import SandboxError, ToolInputError
from harness.events import RunOutcome, UserMessage
from harness.prompt import child_task, children_ended
from harness.sandboxes import Sandbox
from harness.subsessions import ENDED, ChildInfo, ChildResult

CHILD_BUNDLE = ".git/nightshift-child.bundle"


class SubSessionLimits(BaseModel):
    max_children: int = 4
    """Sub-sessions one session may start, over its whole life."""
    max_depth: int = 1
    """How deep sub-sessions nest: 1 lets a session have children, not grandchildren; 0 turns them off."""


class ChildIndex:
    """Which sessions a session started (Session.parent_id points the other way)."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store

    async def add(self, parent_id: str, child: Session) -> None:
        await self.store.redis.zadd(keys.children(parent_id), {child.id: child.created_at})

    async def sessions(self, parent_id: str) -> list[Session]:
        ids = await self.store.redis.zrange(keys.children(parent_id), 0, -1)
        return [await self.store.get(i) for i in ids]


async def depth(store: SessionStore, session: Session) -> int:
    """0 for a session people started, 1 for its children, and so on."""
    level = 0
    while session.parent_id is not None:
        session = await store.get(session.parent_id)
        level += 1
    return level


def info(child: Session) -> ChildInfo:
    summary = child.summary or child.error
    return ChildInfo(id=child.id, title=child.title, status=child.status, branch=child.branch, summary=summary)


class ChildSessions:
    """The SubSessions of one running session."""

    def __init__(
        self,
        *,
        store: SessionStore,
        mirrors: Mirrors,
        parent: Session,
        sandbox: Sandbox,
        limits: SubSessionLimits,
        max_prompt_bytes: int,
    ) -> None:
        self.store, self.mirrors, self.parent, self.sandbox = store, mirrors, parent, sandbox
        self.limits, self.max_prompt_bytes = limits, max_prompt_bytes
        self.index = ChildIndex(store)

    async def spawn(self, task: str) -> ChildInfo:
        started = await self.index.sessions(self.parent.id)
        if len(started) >= self.limits.max_children:
            raise ToolInputError(
                f"this session has started {len(started)} sub-sessions, the limit "
                f"(NIGHTSHIFT_MAX_SUB_SESSIONS={self.limits.max_children}): do the rest yourself"
            )
        p = self.parent
        req = NewSession(
            repo=p.repo,
            base=p.base,
            prompt=child_task(parent_id=p.id, parent_title=p.title, task=task),
            requested_by=p.requested_by,
            source=p.source,
            title=task.strip().splitlines()[0][:100],
            read_only=p.read_only,
            model=p.model,
        )
        child = await create_session(
            self.store,
            req,
            max_prompt_bytes=self.max_prompt_bytes,
            credentials=self.mirrors.credentials,
            parent_id=p.id,
        )
        await self.index.add(p.id, child)
        return info(child)

    async def status(self) -> list[ChildInfo]:
        return [info(c) for c in await self.index.sessions(self.parent.id)]

    async def message(self, child_id: str, text: str) -> ChildInfo:
        await self._child(child_id)
        req = NewMessage(text=text, author=f"parent {self.parent.id}")
        await post_message(self.store, child_id, req, max_prompt_bytes=self.max_prompt_bytes)
        return info(await self.store.get(child_id))

    async def collect(self, child_id: str) -> ChildResult:
        child = await self._child(child_id)
        if child.status not in ENDED:
            raise ToolInputError(f"{child_id} is {child.status}: call wait_for_sessions, then collect it")
        ref = f"refs/nightshift/children/{child.id}" if child.pushed_commit else None
        if ref is not None:
            await self._fetch(child, ref)
        return ChildResult(**info(child).model_dump(), commit=child.pushed_commit or None, fetched_ref=ref)

    async def _child(self, child_id: str) -> Session:
        try:
            child = await self.store.get(child_id)
        except NotFound as e:
            raise ToolInputError(f"there is no session {child_id!r}") from e
        if child.parent_id != self.parent.id:
            raise ToolInputError(f"{child_id} is not a sub-session of this session")
        return child

    async def _fetch(self, child: Session, ref: str) -> None:
        """The child's commits into the parent's sandbox, as a bundle (the sandbox has no remote)."""
        mirror = await self.mirrors.refresh(child.repo)  # the child may have run on another machine
        if await self.mirrors.commit_of(mirror, f"{child.pushed_commit}^{{commit}}") is None:
            raise ToolInputError(f"{child.id}'s commit {child.pushed_commit[:12]} is not in the repository")
        with tempfile.TemporaryDirectory(prefix="nightshift-child-") as tmp:
            bundle = Path(tmp) / "child.bundle"
            await self.mirrors.bundle(mirror, child.pushed_commit, ref, bundle)
            await self.sandbox.write_file(CHILD_BUNDLE, bundle.read_bytes())
        quoted = shlex.quote(f"+{ref}:{ref}")
        fetched = await self.sandbox.exec(f"git fetch -q {CHILD_BUNDLE} {quoted}; s=$?; rm -f {CHILD_BUNDLE}; exit $s")
        if fetched.exit_code != 0:
            raise SandboxError(f"could not fetch {child.id}'s commits: {fetched.output.strip()[-1000:]}")


class ChildWaker:
    """A RunObserver: wakes a waiting parent when the last of its children ends (cancelling a parent cancels its
    children: SessionStore.request_cancel)."""

    def __init__(self, store: SessionStore) -> None:
        self.store, self.index = store, ChildIndex(store)

    async def run_ended(self, session: Session, outcome: RunOutcome) -> None:
        if outcome == "waiting":
            await self.wake_if_done(session.id)
        elif session.parent_id is not None:
            await self.wake_if_done(session.parent_id)

    async def wake_if_done(self, parent_id: str) -> None:
        parent = await self.store.get(parent_id)
        if parent.status != "waiting_for_input":
            return
        children = await self.index.sessions(parent_id)
        if any(c.status not in ENDED for c in children):
            return
        if not await self.store.redis.set(keys.woken(parent_id, parent.run), "1", nx=True, ex=keys.WOKEN_TTL_S):
            return  # the parent and its last child both saw the wait end: only one wakes it
        wake = UserMessage(text=children_ended([info(c) for c in children]), author="nightshift")
        await self.store.post_message(parent_id, wake)
