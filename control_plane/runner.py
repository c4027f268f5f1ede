"""One run of a session on a worker: get a sandbox, rebuild the transcript from the log, run the agent
loop, and take the work out of the sandbox and push it — also when the run ends early, so no work is lost."""

import asyncio
import logging
import time
from dataclasses import dataclass, field

from control_plane import workspace
from control_plane.git import Mirrors
from control_plane.models import Session
from control_plane.store import SessionStore
from harness.budget import Budget
from harness.errors import NightshiftError
from harness.events import (
    TERMINAL_STATUSES,
    BranchPushed,
    ErrorEvent,
    Event,
    ModelTurnEvent,
    Note,
    RunFinished,
    RunOutcome,
    RunStarted,
    SessionStatus,
    UserMessage,
)
from harness.loop import AgentLoop, LoopResult
from harness.model import Model
from harness.prompt import system_prompt
from harness.sandboxes import Sandbox, SandboxProvider, SandboxSpec
from harness.tools import ToolLimits
from harness.transcript import Transcript, rebuild

log = logging.getLogger(__name__)
STATUS_FOR: dict[RunOutcome, SessionStatus] = {
    "finished": "finished",
    "cancelled": "cancelled",
    "budget_exhausted": "failed",
    "failed": "failed",
}


@dataclass
class StopRequest:
    """Why the worker cancelled a run's task. A user's cancel ends the session; anything else hands it on."""

    reason: str | None = None
    by_user: bool = False


@dataclass
class RunnerDeps:
    store: SessionStore
    mirrors: Mirrors
    provider: SandboxProvider
    model: Model
    budget: Budget
    limits: ToolLimits
    secrets: list[str] = field(default_factory=list)
    worker: str = "worker"


class _Sink:
    """The loop's EventSink: appends to the log and keeps the session's usage totals current."""

    def __init__(self, store: SessionStore, session_id: str) -> None:
        self.store, self.session_id = store, session_id

    async def append(self, event: Event) -> str:
        event_id = await self.store.append(self.session_id, event)
        if isinstance(event, ModelTurnEvent):
            await self.store.add_usage(
                self.session_id,
                input_tokens=event.usage.input_tokens
                + event.usage.cache_creation_input_tokens
                + event.usage.cache_read_input_tokens,
                output_tokens=event.usage.output_tokens,
                cost_usd=event.cost_usd,
            )
        return event_id


class _Inbox:
    def __init__(self, store: SessionStore, session_id: str) -> None:
        self.store, self.session_id = store, session_id

    async def take(self, after: str | None) -> list[tuple[str, UserMessage]]:
        return await self.store.inbox(self.session_id, after=after)


class SessionRunner:
    def __init__(self, deps: RunnerDeps) -> None:
        self.d = deps

    async def run(self, session_id: str, stop: StopRequest) -> None:
        store = self.d.store
        session = await store.get(session_id)
        if session.status in TERMINAL_STATUSES:
            return  # cancelled while queued, or a duplicate job for a run that already ended
        resumed = session.status == "running"
        run = session.run if resumed else session.run + 1
        await store.update(session_id, run=run)
        await store.set_status(session_id, "running", f"resumed by {self.d.worker}" if resumed else "")
        await store.append(session_id, RunStarted(run=run, worker=self.d.worker, resumed=resumed))
        try:
            sandbox = await self._sandbox(session)
        except asyncio.CancelledError:
            if not stop.by_user:
                raise
            _consume_cancel()
            await self._end(session_id, LoopResult("cancelled", f"stopped: {stop.reason}"))
            return
        except NightshiftError as e:
            await self._end(session_id, LoopResult("failed", f"could not prepare the workspace: {e}"))
            return
        loop = AgentLoop(
            model=self.d.model,
            sandbox=sandbox,
            sink=_Sink(store, session_id),
            inbox=_Inbox(store, session_id),
            system=system_prompt(repo=session.repo, workdir=sandbox.workdir, branch=session.branch),
            budget=self.d.budget,
            limits=self.d.limits,
            redact=self._redact,
        )
        transcript = rebuild(await store.events(session_id))
        while True:
            result = await self._loop_once(loop, transcript, stop)
            result = await self._publish(session, sandbox, result)
            if await self._end(session_id, result, transcript.delivered_through):
                return
            # Someone wrote while the run was ending: the loop takes the message and goes on.

    async def _end(self, session_id: str, result: LoopResult, delivered_through: str | None = None) -> bool:
        finished = RunFinished(outcome=result.outcome, summary=result.summary)
        status = STATUS_FOR[result.outcome]
        return await self.d.store.end_run(session_id, status, finished, delivered_through=delivered_through)

    async def _loop_once(self, loop: AgentLoop, transcript: Transcript, stop: StopRequest) -> LoopResult:
        try:
            return await loop.run(transcript)
        except asyncio.CancelledError:
            if not stop.by_user:
                raise  # shutdown or lost lease: another worker resumes the session from its log
            _consume_cancel()
            return LoopResult("cancelled", f"stopped: {stop.reason}")
        except NightshiftError as e:
            return LoopResult("failed", str(e))

    async def _sandbox(self, session: Session) -> Sandbox:
        """The session's sandbox if it survived, else a new one seeded from its branch or its base."""
        sandbox = await self.d.provider.attach(session.id)
        if sandbox is not None and await _is_seeded(sandbox):
            return sandbox
        started = time.monotonic()
        await self.d.store.append(session.id, Note(text=f"preparing a workspace from {session.repo}"))
        mirror = await self.d.mirrors.refresh(session.repo)
        pushed = await self.d.mirrors.commit_of(mirror, f"refs/heads/{session.branch}")
        commit = pushed or await self.d.mirrors.resolve(mirror, session.base)
        sandbox = sandbox or await self.d.provider.create(SandboxSpec(session_id=session.id))
        await workspace.seed(sandbox, self.d.mirrors, mirror, commit, session.branch)
        took = time.monotonic() - started
        await self.d.store.append(session.id, Note(text=f"workspace ready at {commit[:12]} in {took:.1f}s"))
        return sandbox

    async def _publish(self, session: Session, sandbox: Sandbox, result: LoopResult) -> LoopResult:
        """Commit and push whatever the agent left, whatever the outcome: an early end is a checkpoint."""
        checkpoint = result.outcome != "finished"
        title = ("WIP (checkpoint): " if checkpoint else "") + session.title
        message = f"{title}\n\nNightshift session {session.id}\nRequested-by: {session.requested_by}\n"
        try:
            mirror = await self.d.mirrors.refresh(session.repo)
            ref = f"refs/nightshift/sessions/{session.id}"
            commit = await workspace.collect(sandbox, self.d.mirrors, mirror, ref, message)
            if commit is None:
                return result
            await self.d.mirrors.push(mirror, session.repo, ref, session.branch)
        except NightshiftError as e:
            await self.d.store.append(session.id, ErrorEvent(message=f"could not push the work: {e}"))
            return LoopResult("failed", f"{result.summary}\n\nThe work could not be pushed: {e}".strip())
        await self.d.store.append(
            session.id, BranchPushed(branch=session.branch, commit=commit, remote=session.repo, checkpoint=checkpoint)
        )
        await self.d.store.update(session.id, pushed_commit=commit)
        return result

    def _redact(self, text: str) -> str:
        for secret in self.d.secrets:
            text = text.replace(secret, "[REDACTED]")
        return text


def _consume_cancel() -> None:
    """A user's cancel is handled here, not propagated: clear it so later awaits (and timeouts) behave."""
    task = asyncio.current_task()
    assert task is not None
    task.uncancel()


async def _is_seeded(sandbox: Sandbox) -> bool:
    result = await sandbox.exec(f"git rev-parse --verify -q {workspace.BASE_REF}", timeout_s=30)
    return result.exit_code == 0
