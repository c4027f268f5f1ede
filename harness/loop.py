"""The agent loop: ask the model, run the tools it calls, repeat until it finishes or a budget ends it.

Everything the loop does is appended to the session's event log before the next thing happens, so a
worker that dies at any point leaves a log another worker can resume from (transcript.rebuild).
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from harness.budget import Budget, exhausted
from harness.events import Event, ModelRetry, ModelTurnEvent, RunOutcome, ToolResult, ToolStarted, UserMessage
from harness.messages import Message, ModelTurn, ToolResultBlock, ToolUseBlock
from harness.model import Model
from harness.sandboxes import Sandbox
from harness.tools import FINISH, ToolLimits, ToolOutcome, describe, run_tool, tool_specs
from harness.transcript import INTERRUPTED, Transcript, missing_results, next_user_content

CUT_OFF = "not run: your response hit max_tokens and this tool call may be incomplete. Retry in smaller steps."
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


class AgentLoop:
    def __init__(
        self,
        *,
        model: Model,
        sandbox: Sandbox,
        sink: EventSink,
        inbox: Inbox,
        system: str,
        budget: Budget,
        limits: ToolLimits,
        redact: Callable[[str], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model, self.sandbox, self.sink, self.inbox = model, sandbox, sink, inbox
        self.system, self.budget, self.limits, self.redact, self.clock = system, budget, limits, redact, clock

    async def run(self, t: Transcript) -> LoopResult:
        started = self.clock()
        for use in missing_results(t):
            await self._record(use, ToolOutcome(output=INTERRUPTED, is_error=True), t, 0)
        while True:
            new = await self.inbox.take(t.delivered_through)
            if _turn_over(t) and not new:
                return LoopResult("finished", _last_summary(t))
            reason = exhausted(t.spent, self.budget, self.clock() - started)
            if reason is not None:
                return LoopResult("budget_exhausted", reason)
            turn = await self._ask(t, new)
            if turn.stop_reason == "refusal":
                return LoopResult("failed", "the model refused to continue this task")
            await self._run_tools(t, turn)
            if _turn_over(t):
                return LoopResult("finished", _last_summary(t))

    async def _ask(self, t: Transcript, new: list[tuple[str, UserMessage]]) -> ModelTurn:
        user = Message(role="user", content=list(next_user_content(t, [m for _, m in new])))
        messages = [*t.messages, user]
        turn = await self.model.complete(self.system, messages, tool_specs(), on_retry=self._on_retry)
        delivered = new[-1][0] if new else t.delivered_through
        step = t.steps + 1
        await self.sink.append(
            ModelTurnEvent(
                step=step,
                content=turn.content,
                stop_reason=turn.stop_reason,
                usage=turn.usage,
                model=turn.model,
                cost_usd=turn.cost_usd,
                delivered_through=delivered,
            )
        )
        t.messages = [*messages, Message(role="assistant", content=turn.content)]
        t.open_tool_uses, t.results, t.delivered_through, t.steps = turn.tool_uses, {}, delivered, step
        t.spent.steps += 1
        t.spent.tokens += turn.usage.total_tokens
        t.spent.cost_usd += turn.cost_usd
        return turn

    async def _run_tools(self, t: Transcript, turn: ModelTurn) -> None:
        for use in turn.tool_uses:
            if turn.stop_reason == "max_tokens":
                await self._record(use, ToolOutcome(output=CUT_OFF, is_error=True), t, 0)
                continue
            await self.sink.append(
                ToolStarted(tool_use_id=use.id, name=use.name, summary=describe(use.name, use.input))
            )
            began = time.monotonic()
            try:
                outcome = await run_tool(self.sandbox, use.name, use.input, self.limits)
            except asyncio.CancelledError:
                await self._record(use, ToolOutcome(output=CANCELLED, is_error=True), t, _ms_since(began))
                raise
            await self._record(use, outcome, t, _ms_since(began))

    async def _record(self, use: ToolUseBlock, outcome: ToolOutcome, t: Transcript, duration_ms: int) -> None:
        output = self.redact(outcome.output)
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

    async def _on_retry(self, attempt: int, wait_s: float, error: str) -> None:
        await self.sink.append(ModelRetry(attempt=attempt, wait_s=wait_s, error=error))


def _finish_call(t: Transcript) -> ToolUseBlock | None:
    return next((u for u in t.open_tool_uses if u.name == FINISH and not _failed(t, u)), None)


def _failed(t: Transcript, use: ToolUseBlock) -> bool:
    result = t.results.get(use.id)
    return result is None or result.is_error


def _turn_over(t: Transcript) -> bool:
    """The agent has nothing more to do until someone writes: it called finish, or answered without tools."""
    return bool(t.messages) and (not t.open_tool_uses or _finish_call(t) is not None)


def _last_summary(t: Transcript) -> str:
    finish = _finish_call(t)
    if finish is not None:
        return str(finish.input.get("summary", ""))
    last = t.messages[-1] if t.messages else None
    return "\n".join(b.text for b in last.content if b.type == "text") if last else ""


def _ms_since(began: float) -> int:
    return int((time.monotonic() - began) * 1000)
