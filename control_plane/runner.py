"""One run of a session on a worker: get a sandbox, rebuild the transcript from the log, run the agent
loop, and take the work out of the sandbox and push it — also when the run ends early, so no work is lost."""

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field

from control_plane import workspace
from control_plane.agent_setup import AgentSetup
from control_plane.daily_budgets import DailySpend
from control_plane.git import Mirrors
from control_plane.metrics import MODEL_CALLS, MODEL_COST, MODEL_TOKENS, SANDBOX_START_SECONDS, TOOL_SECONDS, Metrics
from control_plane.models import Session
from control_plane.observers import RunObserver
from control_plane.push_policy import PushPolicy
from control_plane.store import SessionStore
from control_plane.tracing import NoTracing, RunTrace, Tracing
from control_plane.warm_start import SandboxStarts
from harness.budget import Budget
from harness.errors import HandBack, NightshiftError
from harness.events import (
    TERMINAL_STATUSES,
    BranchPushed,
    Compacted,
    ErrorEvent,
    Event,
    ModelTurnEvent,
    Note,
    RunFinished,
    RunOutcome,
    RunStarted,
    SessionStatus,
    ToolResult,
    UserMessage,
)
from harness.loop import AgentLoop, LoopResult
from harness.model import Model
from harness.sandboxes import Sandbox, SandboxProvider
from harness.toolbox import ToolLimits
from harness.transcript import Transcript, rebuild

log = logging.getLogger(__name__)
STATUS_FOR: dict[RunOutcome, SessionStatus] = {
    "finished": "finished",
    "cancelled": "cancelled",
    "budget_exhausted": "failed",
    "failed": "failed",
    "waiting": "waiting_for_input",  # for its sub-sessions; the last one to end wakes it (children.ChildWaker)
}


@dataclass
class StopRequest:
    """Why the worker cancelled a run's task. A user's cancel ends the session; anything else hands it on."""

    reason: str | None = None
    by_user: bool = False
    draining: bool = False
    """The worker is stopping gracefully: the run ends at its next step boundary, pushes a checkpoint and
    raises HandBack, and the worker queues the session again for another worker."""


@dataclass
class RunnerDeps:
    store: SessionStore
    mirrors: Mirrors
    pushes: PushPolicy
    """Every push goes through it: the session's own branch or its pull request's head, as the forge says now."""
    provider: SandboxProvider
    model: Model
    budget: Budget
    limits: ToolLimits
    agent: AgentSetup
    """Model choice, prompt, skills, notes, sub-sessions and screenshots for each run."""
    starts: SandboxStarts
    """How a new sandbox starts: from the repo's setup snapshot when there is one; runs the start hook."""
    metrics: Metrics
    spend: DailySpend
    """Daily budgets per repo and per person: every call's cost is counted, and checked before the next call."""
    provider_name: str = "local"
    tracing: Tracing = field(default_factory=NoTracing)
    secrets: list[str] = field(default_factory=list)
    worker: str = "worker"
    observers: list[RunObserver] = field(default_factory=list)


class _Sink:
    """The loop's EventSink: appends to the log, keeps the session's usage totals current, counts the day's
    spend and feeds the metrics — the one place every step of a run passes through."""

    def __init__(self, deps: RunnerDeps, session: Session, trace: RunTrace) -> None:
        self.d, self.session, self.trace = deps, session, trace

    async def append(self, event: Event) -> str:
        event_id = await self.d.store.append(self.session.id, event)
        self.trace.event(event)
        if isinstance(event, ModelTurnEvent | Compacted):
            usage = event.usage
            await self.d.store.add_usage(
                self.session.id,
                input_tokens=usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=event.cost_usd,
            )
            await self.d.spend.add(self.session, event.cost_usd)
            await self._model_metrics(event)
        if isinstance(event, ToolResult):
            await self.d.metrics.observe(TOOL_SECONDS, {"tool": event.name}, event.duration_ms / 1000)
        return event_id

    async def _model_metrics(self, event: ModelTurnEvent | Compacted) -> None:
        model, usage = event.model, event.usage
        tokens = {
            "input": usage.input_tokens,
            "output": usage.output_tokens,
            "cache_read": usage.cache_read_input_tokens,
            "cache_write": usage.cache_creation_input_tokens,
        }
        await self.d.metrics.add(MODEL_TOKENS, [({"model": model, "kind": k}, n) for k, n in tokens.items()])
        await self.d.metrics.add(MODEL_COST, [({"model": model}, event.cost_usd)])
        await self.d.metrics.add(MODEL_CALLS, [({"model": model}, 1)])


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
            # cancelled while queued, a duplicate job for a run that already ended, or a worker that died between
            # ending the run and telling the observers: _notify tells them only about runs they have not heard of.
            await self._notify(session_id)
            return
        resumed = session.status == "running"
        run = session.run if resumed else session.run + 1
        await store.update(session_id, run=run)
        await store.set_status(session_id, "running", f"resumed by {self.d.worker}" if resumed else "")
        await store.append(session_id, RunStarted(run=run, worker=self.d.worker, resumed=resumed))
        trace = self.d.tracing.start_run(session, run, self.d.worker)
        try:
            await self._run(session, stop, trace)
        except BaseException as e:
            trace.end(e)
            raise
        trace.end(None)

    async def _run(self, session: Session, stop: StopRequest, trace: RunTrace) -> None:
        store, session_id = self.d.store, session.id
        try:
            sandbox = await self._sandbox(session, trace)
            await self.d.starts.start_hook(sandbox, functools.partial(store.append, session_id))
            prepared = await self.d.agent.prepare(
                session, sandbox, default_model=self.d.model, budget=self.d.budget, limits=self.d.limits
            )
        except asyncio.CancelledError:
            if not stop.by_user:
                raise
            _consume_cancel()
            await self._end(session_id, LoopResult("cancelled", f"stopped: {stop.reason}"))
            await self._notify(session_id, "cancelled")
            return
        except NightshiftError as e:
            await self._end(session_id, LoopResult("failed", f"could not prepare the workspace: {e}"))
            await self._notify(session_id, "failed")
            return
        loop = AgentLoop(
            model=prepared.model,
            tools=prepared.tools,
            sink=_Sink(self.d, session, trace),
            inbox=_Inbox(store, session_id),
            artifacts=prepared.artifacts,
            system=prepared.system,
            config=prepared.config,
            redact=self._redact,
            spend_limit=self.d.spend.limit_for(session),
            hand_back=lambda: stop.draining,
        )
        transcript = rebuild(await store.events(session_id))
        while True:
            try:
                result = await self._loop_once(loop, transcript, stop)
            except HandBack:
                await self._hand_back(session, sandbox)
                raise
            result = await self._publish(session, sandbox, result)
            if await self._end(session_id, result, transcript.delivered_through):
                await self._notify(session_id, result.outcome)
                return
            # Someone wrote while the run was ending: the loop takes the message and goes on.

    async def _end(self, session_id: str, result: LoopResult, delivered_through: str | None = None) -> bool:
        finished = RunFinished(outcome=result.outcome, summary=result.summary)
        status = STATUS_FOR[result.outcome]
        return await self.d.store.end_run(session_id, status, finished, delivered_through=delivered_through)

    async def _notify(self, session_id: str, outcome: RunOutcome | None = None) -> None:
        """Tell the observers (pull request, thread reply) about the run that just ended, once per run."""
        session = await self.d.store.get(session_id)
        if not self.d.observers or session.notified_run >= session.run:
            return
        if outcome is None:  # taking over from a worker that died: the log says how the run ended
            ends = [e.event for e in await self.d.store.events(session_id) if isinstance(e.event, RunFinished)]
            outcome = ends[-1].outcome if ends else "failed"
        for observer in self.d.observers:
            try:
                await observer.run_ended(session, outcome)
            except NightshiftError as e:
                await self.d.store.append(session_id, ErrorEvent(message=f"after the run: {e}"))
        await self.d.store.update(session_id, notified_run=session.run)

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

    async def _sandbox(self, session: Session, trace: RunTrace) -> Sandbox:
        """The session's sandbox if it survived, else a new one seeded from its branch or its base."""
        sandbox = await self.d.provider.attach(session.id)
        if sandbox is not None and await _is_seeded(sandbox) and not await self._branch_moved(session):
            return sandbox
        started = time.monotonic()
        await self.d.store.append(session.id, Note(text=f"preparing a workspace from {session.repo}"))
        mirror = await self.d.mirrors.refresh(session.repo, refs=_outside_branches(session.base))
        pushed = await self.d.mirrors.commit_of(mirror, f"refs/heads/{session.branch}")
        commit = pushed or await self.d.mirrors.resolve(mirror, session.base)
        upstream = session.upstream
        if upstream and await self.d.mirrors.commit_of(mirror, f"refs/heads/{upstream}") is None:
            upstream = None
        if sandbox is None:
            log = functools.partial(self.d.store.append, session.id)
            new = await self.d.starts.open(session.id, session.repo, session.branch, mirror, commit, upstream, log)
            sandbox = new.sandbox
            labels = {"provider": self.d.provider_name, "start": "warm" if new.warm else "cold"}
            await self.d.metrics.observe(SANDBOX_START_SECONDS, labels, time.monotonic() - started)
            trace.sandbox_started(time.monotonic() - started, new.warm)
        else:
            await workspace.seed(sandbox, self.d.mirrors, mirror, commit, session.branch, upstream=upstream)
        took = time.monotonic() - started
        await self.d.store.append(session.id, Note(text=f"workspace ready at {commit[:12]} in {took:.1f}s"))
        return sandbox

    async def _branch_moved(self, session: Session) -> bool:
        """Someone else pushed to the branch since our last push (a person's commits on the PR): start over from it."""
        if not session.pushed_commit:
            return False
        mirror = await self.d.mirrors.refresh(session.repo)
        head = await self.d.mirrors.commit_of(mirror, f"refs/heads/{session.branch}")
        return head not in (None, session.pushed_commit)

    async def _publish(self, session: Session, sandbox: Sandbox, result: LoopResult) -> LoopResult:
        """Commit and push whatever the agent left, whatever the outcome: an early end is a checkpoint."""
        try:
            await self._push(session, sandbox, checkpoint=result.outcome != "finished")
        except NightshiftError as e:
            await self.d.store.append(session.id, ErrorEvent(message=f"could not push the work: {e}"))
            return LoopResult("failed", f"{result.summary}\n\nThe work could not be pushed: {e}".strip())
        return result

    async def _hand_back(self, session: Session, sandbox: Sandbox) -> None:
        """The worker is stopping: push the work so far, so the next worker (maybe elsewhere) starts from it."""
        try:
            await self._push(session, sandbox, checkpoint=True)
        except NightshiftError as e:  # the next worker starts from the last push instead; say so, hand back anyway
            await self.d.store.append(session.id, ErrorEvent(message=f"could not push a checkpoint: {e}"))
        await self.d.store.append(session.id, Note(text=f"{self.d.worker} is stopping: handed the session on"))

    async def _push(self, session: Session, sandbox: Sandbox, *, checkpoint: bool) -> None:
        title = ("WIP (checkpoint): " if checkpoint else "") + session.title
        trailers = "".join(f"Co-authored-by: {person}\n" for person in session.co_authors)
        message = f"{title}\n\nNightshift session {session.id}\nRequested-by: {session.requested_by}\n{trailers}"
        mirror = await self.d.mirrors.refresh(session.repo)
        ref = f"refs/nightshift/sessions/{session.id}"
        commit = await workspace.collect(sandbox, self.d.mirrors, mirror, ref, message)
        if commit is None or session.read_only:
            return  # read-only (a fork's PR): the work stays in the mirror, nothing is pushed
        await self.d.pushes.push(session, mirror, ref)
        await self.d.store.append(
            session.id, BranchPushed(branch=session.branch, commit=commit, remote=session.repo, checkpoint=checkpoint)
        )
        await self.d.store.update(session.id, pushed_commit=commit)

    def _redact(self, text: str) -> str:
        for secret in self.d.secrets:
            text = text.replace(secret, "[REDACTED]")
        return text


def _outside_branches(base: str | None) -> list[str]:
    """A base that is neither a branch nor a tag (refs/pull/7/head, a fork's PR) must be fetched by name."""
    return [base] if base and base.startswith("refs/") and not base.startswith(("refs/heads/", "refs/tags/")) else []


def _consume_cancel() -> None:
    """A user's cancel is handled here, not propagated: clear it so later awaits (and timeouts) behave."""
    task = asyncio.current_task()
    assert task is not None
    task.uncancel()


async def _is_seeded(sandbox: Sandbox) -> bool:
    result = await sandbox.exec(f"git rev-parse --verify -q {workspace.BASE_REF}", timeout_s=30)
    return result.exit_code == 0
