"""Sub-sessions: child sessions an agent starts for independent parts of its task, each with its own sandbox and
branch. The harness declares what it needs; the control plane implements it (it owns sessions and the queue).

Waiting never holds a worker: `wait_for_sessions` ends the parent's run (status waiting_for_input) and the
control plane wakes it with a message once its children have ended, so a one-slot worker runs the children
in between instead of deadlocking on a parent that waits for them.
"""

from typing import Protocol

from pydantic import BaseModel

from harness.events import SessionStatus

ENDED: frozenset[str] = frozenset({"finished", "failed", "cancelled"})


class ChildInfo(BaseModel):
    id: str
    title: str
    status: SessionStatus
    branch: str
    summary: str = ""
    """The child's last report (its finish summary, or why it stopped)."""


class ChildResult(ChildInfo):
    commit: str | None
    """The child's pushed work, None when it changed nothing."""
    fetched_ref: str | None
    """Where the child's commits now are in the parent's repository, ready to merge; None when nothing was pushed."""


class SubSessions(Protocol):
    """The children of one session, as that session's agent may handle them. A request the control plane refuses
    (a limit reached, not a child of this session) raises harness.errors.ToolInputError, told to the model."""

    async def spawn(self, task: str) -> ChildInfo: ...

    async def status(self) -> list[ChildInfo]:
        """Every child of the session, oldest first."""
        ...

    async def message(self, child_id: str, text: str) -> ChildInfo:
        """A follow-up for a child; one that had ended starts a new run."""
        ...

    async def collect(self, child_id: str) -> ChildResult:
        """An ended child's result, with its commits fetched into the parent's repository."""
        ...
