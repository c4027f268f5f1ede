"""Rebuild the model transcript from a session's event log.

The log is the source of truth, so a worker that resumes a session another worker left (crash, kill -9,
graceful stop) rebuilds exactly what the model was sent, and repairs a turn whose tool calls never got a
result: the API refuses a transcript with a tool_use that has no tool_result right after it.

A `compacted` event restarts the transcript from its content (the task, then a summary of the work so far), so
a session compacted before a crash resumes from the same compacted transcript, not from the full history.

An empty reply (the API documents `end_turn` with no content, mostly right after tool results) is never kept as
a message: the API refuses an empty message anywhere but last, so a session that kept one could never take a
follow-up. The user content the model read without answering is carried into the next user message instead (its
tool results still first), which also repairs sessions logged before this rule: rebuild applies it to their log.
"""

from dataclasses import dataclass, field

from harness.budget import Spent
from harness.events import Compacted, LoggedEvent, ModelTurnEvent, RunStarted, ToolResult, UserMessage
from harness.messages import Message, StopReason, TextBlock, ToolResultBlock, ToolUseBlock

INTERRUPTED = (
    "interrupted: this tool call was cut off (worker restart or cancellation) before it reported a result; "
    "its effects are unknown. Check the workspace before repeating it."
)


@dataclass
class Transcript:
    messages: list[Message] = field(default_factory=list)
    """Complete user/assistant turns, ending with an assistant turn (or empty)."""
    open_tool_uses: list[ToolUseBlock] = field(default_factory=list)
    """tool_use blocks of the last assistant turn."""
    results: dict[str, ToolResultBlock] = field(default_factory=dict)
    """Results logged so far for open_tool_uses, by tool_use id."""
    delivered_through: str | None = None
    """Id of the newest user_message already sent to the model."""
    steps: int = 0
    """Model calls over the whole session; numbers the next step."""
    spent: Spent = field(default_factory=Spent)
    """Spent by the current run (since the last hand-off), for its budget."""
    preamble: list[TextBlock | ToolResultBlock] = field(default_factory=list)
    """What the next user message starts with: after a compaction the task and the summary, after an empty reply
    the user content the model read and did not answer; otherwise empty."""
    context_tokens: int = 0
    """Tokens the last model call read and wrote: about the size of the conversation so far."""
    wrapped_up: bool = False
    """The last turn is the report a run writes when a budget ends it (its request carried a notice)."""
    empty_replies: int = 0
    """Replies in a row that had no content at all (kept in no message, see the module docstring)."""
    cut_replies: int = 0
    """Text-only replies in a row that stopped before the model was done (max_tokens, pause_turn, the context
    window): the loop asks the model to go on, a bounded number of times."""
    last_stop_reason: StopReason | None = None
    """Why the last reply stopped."""
    context_exceeded: bool = False
    """The last reply stopped because the conversation filled the model's context window: compact before the next."""
    answer: str = ""
    """The text of the last reply, joined to the cut replies it continues: what the run reports when it ends."""


def user_text(message: UserMessage) -> str:
    return f"[{message.author}]: {message.text}"


def _result_block(event: ToolResult) -> ToolResultBlock:
    return ToolResultBlock(tool_use_id=event.tool_use_id, content=event.output, is_error=event.is_error)


def next_user_content(
    t: Transcript, new_messages: list[UserMessage], notice: str | None = None
) -> list[TextBlock | ToolResultBlock]:
    """Tool results first (one per open tool_use, in order), as the API requires; then the compacted preamble,
    people's messages, and the harness's own notice."""
    blocks: list[TextBlock | ToolResultBlock] = [
        t.results.get(u.id) or ToolResultBlock(tool_use_id=u.id, content=INTERRUPTED, is_error=True)
        for u in t.open_tool_uses
    ]
    blocks += t.preamble
    blocks += [TextBlock(text=user_text(m)) for m in new_messages]
    if notice is not None:
        blocks.append(TextBlock(text=notice))
    return blocks


CUT_SHORT: frozenset[StopReason | None] = frozenset({"max_tokens", "pause_turn", "model_context_window_exceeded"})
"""Stop reasons of a reply the model did not end itself: its text goes on in the next reply, its tool calls may
be incomplete."""


def add_turn(t: Transcript, user: Message, turn: ModelTurnEvent) -> None:
    """The transcript after a model call: the request's user message, the answer, its open tool calls."""
    if turn.content:
        t.messages += [user, Message(role="assistant", content=turn.content)]
        t.preamble = []
    else:
        t.preamble = [b for b in user.content if isinstance(b, TextBlock | ToolResultBlock)]
    t.open_tool_uses = [b for b in turn.content if isinstance(b, ToolUseBlock)]
    t.results = {}
    text = "\n".join(b.text for b in turn.content if isinstance(b, TextBlock))
    t.answer = (t.answer if t.cut_replies else "") + text
    cut = bool(turn.content) and not t.open_tool_uses and turn.stop_reason in CUT_SHORT
    t.cut_replies = t.cut_replies + 1 if cut else 0
    t.empty_replies = 0 if turn.content else t.empty_replies + 1
    t.last_stop_reason = turn.stop_reason
    t.context_exceeded = turn.stop_reason == "model_context_window_exceeded"
    t.delivered_through = turn.delivered_through or t.delivered_through
    t.steps = turn.step
    t.context_tokens = turn.usage.total_tokens
    t.wrapped_up = turn.notice is not None and turn.notice_kind == "wrap_up"
    _count(t, turn.usage.total_tokens, turn.cost_usd)


def restart(t: Transcript, compacted: Compacted) -> None:
    """The transcript after a compaction: nothing but the preamble the next request starts with."""
    t.messages, t.open_tool_uses, t.results = [], [], {}
    t.preamble = list(compacted.content)
    t.context_tokens = 0
    t.context_exceeded = False
    _count(t, compacted.usage.total_tokens, compacted.cost_usd)


def _count(t: Transcript, tokens: int, cost_usd: float) -> None:
    t.spent.steps += 1
    t.spent.tokens += tokens
    t.spent.cost_usd += cost_usd


def missing_results(t: Transcript) -> list[ToolUseBlock]:
    return [u for u in t.open_tool_uses if u.id not in t.results]


def rebuild(log: list[LoggedEvent]) -> Transcript:
    t = Transcript()
    pending: list[tuple[str, UserMessage]] = []
    for item in log:
        event = item.event
        if isinstance(event, UserMessage):
            pending.append((item.id, event))
        elif isinstance(event, RunStarted) and not event.resumed:
            t.spent = Spent()
        elif isinstance(event, ToolResult):
            t.results[event.tool_use_id] = _result_block(event)
        elif isinstance(event, ModelTurnEvent):
            cut = event.delivered_through
            delivered = [m for i, m in pending if cut is not None and _id_le(i, cut)]
            pending = [(i, m) for i, m in pending if not (cut is not None and _id_le(i, cut))]
            user = Message(role="user", content=list(next_user_content(t, delivered, event.notice)))
            add_turn(t, user, event)
        elif isinstance(event, Compacted):
            restart(t, event)
    return t


def _id_le(a: str, b: str) -> bool:
    """Redis stream ids ("ms-seq") compared numerically."""
    am, _, aseq = a.partition("-")
    bm, _, bseq = b.partition("-")
    return (int(am), int(aseq or 0)) <= (int(bm), int(bseq or 0))


def id_after(a: str, b: str | None) -> bool:
    return b is None or not _id_le(a, b)
