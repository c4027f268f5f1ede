"""What the control plane tells the outside world when a run has ended. Integrations implement the protocol
(integrations/github opens or updates the pull request and answers in the thread); the composition root wires them."""

from typing import Protocol

from control_plane.models import Session
from harness.events import RunOutcome


class RunObserver(Protocol):
    async def run_ended(self, session: Session, outcome: RunOutcome) -> None:
        """The run has ended and its work is pushed (session.branch at session.pushed_commit, if anything changed).

        Called once per run, after the session's status is final for that run; at least once, not exactly once: a
        worker that dies before every observer returned leaves the call to the worker that takes the job over.
        Raise a NightshiftError for a failure people should see in the session's log.
        """
        ...
