"""The agent loop: ask the model, run the tools it calls, repeat until it finishes, pauses or a budget ends it.

Everything the loop does is appended to the session's event log before the next thing happens, so a
worker that dies at any point leaves a log another worker can resume from (transcript.rebuild).
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel

from harness.artifacts import ArtifactStore, safe_name
from harness.budget import Budget, SpendLimit, exhausted
from harness.compaction import CompactionConfig, compact, due
from harness.errors import HandBack, ModelAPIError
from harness.events import (
    ArtifactSaved,
    Event,
    ModelRetry,
    ModelTurnEvent,
    Note,
    RunOutcome,
    ToolResult,
    ToolStarted,
    UserMessage,
)
from harness.messages import Message, ModelTurn, TextBlock, ToolResultBlock, ToolUseBlock
from harness.model import Model
from harness.prompt import go_on_request, wrap_up_request
from harness.subsession_tools import WAIT, WAITING
from harness.toolbox import ToolContext, ToolOutcome
from harness.tools import FINISH, describe, run_tool, tool_specs
from harness.transcript import (
    CUT_SHORT,
    INTERRUPTED,
    Transcript,
    add_turn,
    missing_results,
    next_user_content,
    restart,
)

CUT_OFF = "not run: your response was cut off ({}) and this tool call may be incomplete. Retry in smaller steps."
CANCELLED = "cancelled: the session was stopped while this tool ran."


class EventSink(Protocol):
    async def append(self, event: Event) -> str:
        """Append to the session's log; returns the event's id."""
        ...


class Inbox(Protocol):
    async def take(self, after: str | None) -> list[tuple[str, UserMessage]]:
        """People's messages logged after the event id `after`, oldest first, with their ids."""
        ...


@dataclass
class LoopResult:
    outcome: RunOutcome
    summary: str


class LoopConfig(BaseModel):
    budget: Budget = Budget()
    compaction: CompactionConfig = CompactionConfig()
    wrap_up_max_tokens: int = 1500
    """The report a run writes when a budget ends it: one model call, capped, counted like any other."""
    max_continuations: int = 3
    """Times in a row the loop asks the model to go on with a text reply cut short (max_tokens) before it ends
    the run with what it has, saying it was cut. An empty reply is asked about once."""


class AgentLoop:
    def __init__(
        self,
        *,
        model: Model,
        tools: ToolContext,
        sink: EventSink,
        inbox: Inbox,
        artifacts: ArtifactStore,
        system: str,
        config: LoopConfig,
        redact: Callable[[str], str],
        clock: Callable[[], float] = time.monotonic,
        spend_limit: SpendLimit | None = None,
        hand_back: Callable[[], bool] = lambda: False,
    ) -> None:
        self.model, self.tools, self.sink, self.inbox, self.artifacts = model, tools, sink, inbox, artifacts
        self.system, self.config, self.redact, self.clock = system, config, redact, clock
        self.spend_limit = spend_limit
        self.hand_back = hand_back
        """True when the worker is stopping: the loop raises HandBack before its next model call."""
        self.specs = tool_specs(tools)  # fixed for the run: the tool list is part of the cached prefix

    async def run(self, t: Transcript) -> LoopResult:
        started = self.clock()
        for use in missing_results(t):
            await self._record(use, ToolOutcome(output=INTERRUPTED, is_error=True), t, 0)
        while True:
            new = await self.inbox.take(t.delivered_through)
            if t.wrapped_up and not new:  # resumed after the report was logged: that run had ended on its budget
                return LoopResult("budget_exhausted", _last_summary(t))
            if _waiting(t) and not new:
                return LoopResult("waiting", _waiting_summary(t))
            go_on = self._go_on(t)
            if _turn_over(t) and not new and go_on is None:
                return LoopResult("finished", self._summary(t))
            if self.hand_back():
                raise HandBack()  # the inbox is only read, never consumed: the next worker sees the same messages
            reason = exhausted(t.spent, self.config.budget, self.clock() - started)
            if reason is None and self.spend_limit is not None:
                reason = await self.spend_limit.exceeded()
            if reason is not None:
                return LoopResult("budget_exhausted", await self._wrap_up(t, new, reason))
            if not await self._make_room(t):
                return LoopResult("failed", CONTEXT_FULL)
            turn = await self._ask(t, new, go_on)
            if turn.stop_reason == "refusal":
                return LoopResult("failed", "the model refused to continue this task")
            await self._run_tools(t, turn)
            if _waiting(t):
                return LoopResult("waiting", _waiting_summary(t))
            if _turn_over(t) and self._go_on(t) is None:
                return LoopResult("finished", self._summary(t))

    async def _make_room(self, t: Transcript) -> bool:
        """Compact when the conversation nears the context window, or filled it; False when it cannot be made to fit:
        it filled the window with one exchange, or the model could not summarise it."""
        if t.context_exceeded:
            return len(t.messages) >= 4 and await self._compact(t)
        if due(t, self.model.context_window_tokens, self.config.compaction):
            await self._compact(t)
        return True

    def _go_on(self, t: Transcript) -> str | None:
        """The notice that asks the model to go on after an empty reply (once) or a text reply cut short (a bounded
        number of times); None when its last reply stands as it is."""
        if t.empty_replies == 1:
            return go_on_request(empty=True)
        if 0 < t.cut_replies <= self.config.max_continuations:
            return go_on_request(empty=False, reason=_CUT_REASONS[t.last_stop_reason])
        return None

    def _summary(self, t: Transcript) -> str:
        """What a finished run reports: the finish call's summary or the last reply, and whether that reply was
        empty or cut short and left so."""
        if t.empty_replies:
            return "the model ended its turn without a reply"
        summary = _last_summary(t)
        if t.cut_replies:
            cause = _CUT_REASONS[t.last_stop_reason]
            times = f"{t.cut_replies} times in a row" if t.cut_replies > 1 else "and was left so"
            return f"{summary}\n\n[cut: the reply was cut off ({cause}) {times}; this is where it stopped]"
        return summary

    async def _ask(self, t: Transcript, new: list[tuple[str, UserMessage]], notice: str | None) -> ModelTurn:
        user = Message(role="user", content=list(next_user_content(t, [m for _, m in new], notice)))
        turn = await self.model.complete(self.system, [*t.messages, user], self.specs, on_retry=self._on_retry)
        await self._log_turn(t, user, turn, new, notice, "go_on")
        return turn

    async def _log_turn(
        self,
        t: Transcript,
        user: Message,
        turn: ModelTurn,
        new: list[tuple[str, UserMessage]],
        notice: str | None,
        notice_kind: Literal["wrap_up", "go_on"],
    ) -> None:
        event = ModelTurnEvent(
            step=t.steps + 1,
            content=turn.content,
            stop_reason=turn.stop_reason,
            usage=turn.usage,
            model=turn.model,
            cost_usd=turn.cost_usd,
            delivered_through=new[-1][0] if new else t.delivered_through,
            notice=notice,
            notice_kind=notice_kind,
        )
        await self.sink.append(event)
        add_turn(t, user, event)

    async def _wrap_up(self, t: Transcript, new: list[tuple[str, UserMessage]], reason: str) -> str:
        """One last, tool-less call for the report of what is done and what remains; the runner then pushes the
        work as a checkpoint. The exchange stays in the transcript, so a later run starts from that report."""
        notice = wrap_up_request(reason)
        user = Message(role="user", content=list(next_user_content(t, [m for _, m in new], notice)))
        try:
            turn = await self.model.complete(
                self.system,
                [*t.messages, user],
                self.specs,
                on_retry=self._on_retry,
                tool_choice="none",
                max_tokens=self.config.wrap_up_max_tokens,
            )
        except ModelAPIError as e:
            await self.sink.append(Note(text=f"no wrap-up report: the model API failed: {e}"))
            return reason
        # Text only: a tool call here would never be run, and would be left open in the transcript.
        report = turn.text.strip() or "(the model wrote no report)"
        text_only = turn.model_copy(update={"content": [TextBlock(text=report)], "stop_reason": "end_turn"})
        await self._log_turn(t, user, text_only, new, notice, "wrap_up")
        return f"{reason}\n\n{report}"

    async def _compact(self, t: Transcript) -> bool:
        """Replace the conversation with the model's summary of it; False when it wrote none (nothing replaced)."""
        compacted = await compact(self.model, self.system, self.specs, t, self.config.compaction, self._on_retry)
        if compacted is None:
            await self.sink.append(Note(text="compaction skipped: the model wrote no summary"))
            return False
        await self.sink.append(compacted)
        restart(t, compacted)
        return True

    async def _run_tools(self, t: Transcript, turn: ModelTurn) -> None:
        for use in turn.tool_uses:
            if turn.stop_reason in CUT_SHORT:
                cut_off = CUT_OFF.format(_CUT_REASONS[turn.stop_reason])
                await self._record(use, ToolOutcome(output=cut_off, is_error=True), t, 0)
                continue
            await self.sink.append(
                ToolStarted(tool_use_id=use.id, name=use.name, summary=describe(use.name, use.input))
            )
            began = time.monotonic()
            try:
                outcome = await run_tool(self.tools, use.name, use.input)
            except asyncio.CancelledError:
                await self._record(use, ToolOutcome(output=CANCELLED, is_error=True), t, _ms_since(began))
                raise
            await self._record(use, outcome, t, _ms_since(began))

    async def _record(self, use: ToolUseBlock, outcome: ToolOutcome, t: Transcript, duration_ms: int) -> None:
        output = self.redact(outcome.output)
        for event in outcome.events:
            await self.sink.append(event)
        for artifact in outcome.artifacts:
            await self._save(use, f"{use.id}-{artifact.name}", artifact.data, artifact.mime_type, artifact.description)
        if outcome.full_output is not None:
            full = self.redact(outcome.full_output).encode()
            name = f"{use.id}-output.txt"
            await self._save(use, name, full, "text/plain; charset=utf-8", f"full output of {use.name}")
            output += (
                f"\n[the full output ({len(full):,} bytes) is kept as artifact {safe_name(name)} for people; "
                "to see a part of it, narrow the command (grep, head, tail, sed -n)]"
            )
        await self.sink.append(
            ToolResult(
                tool_use_id=use.id,
                name=use.name,
                output=output,
                is_error=outcome.is_error,
                truncated=outcome.truncated,
                duration_ms=duration_ms,
            )
        )
        t.results[use.id] = ToolResultBlock(tool_use_id=use.id, content=output, is_error=outcome.is_error)

    async def _save(self, use: ToolUseBlock, name: str, data: bytes, mime_type: str, description: str) -> None:
        name = safe_name(name)
        path = await self.artifacts.save(name, data)
        saved = ArtifactSaved(
            name=name,
            path=path,
            mime_type=mime_type,
            size_bytes=len(data),
            tool_use_id=use.id,
            description=description,
        )
        await self.sink.append(saved)

    async def _on_retry(self, attempt: int, wait_s: float, error: str) -> None:
        await self.sink.append(ModelRetry(attempt=attempt, wait_s=wait_s, error=error))


CONTEXT_FULL = (
    "the conversation no longer fits the model's context window, even after compaction: "
    "start a new session with a narrower task"
)
_CUT_REASONS = {
    "max_tokens": "it reached the output limit, max_tokens",
    "pause_turn": "the API paused the turn",
    "model_context_window_exceeded": "it filled the model's context window",
}


def _finish_call(t: Transcript) -> ToolUseBlock | None:
    return next((u for u in t.open_tool_uses if u.name == FINISH and not _failed(t, u)), None)


def _failed(t: Transcript, use: ToolUseBlock) -> bool:
    result = t.results.get(use.id)
    return result is None or result.is_error


def _turn_over(t: Transcript) -> bool:
    """The agent has nothing more to do until someone writes: it called finish, or answered without tools."""
    return bool(t.messages or t.empty_replies) and (not t.open_tool_uses or _finish_call(t) is not None)


def _waiting(t: Transcript) -> bool:
    """The last turn paused the session for its sub-sessions (a wait_for_sessions that did not return at once)."""
    return any(
        u.name == WAIT and (r := t.results.get(u.id)) is not None and r.content.startswith(WAITING)
        for u in t.open_tool_uses
    )


def _waiting_summary(t: Transcript) -> str:
    return next(r.content for u in t.open_tool_uses if (r := t.results.get(u.id)) and u.name == WAIT)


def _last_summary(t: Transcript) -> str:
    finish = _finish_call(t)
    if finish is not None:
        return str(finish.input.get("summary", ""))
    return t.answer


def _ms_since(began: float) -> int:
    return int((time.monotonic() - began) * 1000)
