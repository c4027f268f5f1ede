"""Compaction: when the conversation nears the model's context window, replace it with a summary the model
writes of it, and go on from the task plus that summary.

The summary request is the current conversation plus one instruction, so it reads the conversation from the
prompt cache (the previous request's breakpoint, see anthropic_model._message_params); after it, the tools and
system prompt are still the same cached prefix. The result is logged as a `compacted` event, from which
transcript.rebuild restarts, so a crash after a compaction resumes the compacted conversation.
"""

from collections.abc import Sequence

from pydantic import BaseModel

from harness.events import Compacted
from harness.messages import Message, TextBlock, ToolSpec
from harness.model import Model, RetryCallback
from harness.prompt import compacted_summary, compaction_request
from harness.transcript import Transcript, next_user_content


class CompactionConfig(BaseModel):
    at_fraction: float = 0.75
    """Compact once a request has used this share of the model's context window."""
    max_summary_tokens: int = 4000


def due(t: Transcript, context_window_tokens: int, config: CompactionConfig) -> bool:
    # At least two turns, or the "summary" would be about as long as what it replaces.
    return len(t.messages) >= 4 and t.context_tokens >= config.at_fraction * context_window_tokens


def task_text(t: Transcript) -> str:
    """The task as first given: the first block of the first message (compaction keeps it there)."""
    first = t.messages[0].content[0]
    assert isinstance(first, TextBlock), "a session's first message is a person's text"
    return first.text


async def compact(
    model: Model,
    system: str,
    tools: Sequence[ToolSpec],
    t: Transcript,
    config: CompactionConfig,
    on_retry: RetryCallback | None,
) -> Compacted | None:
    """The compacted event to log and restart from; None when the model wrote no summary (nothing replaced)."""
    instruction = TextBlock(text=compaction_request(waiting_on_tools=bool(t.open_tool_uses)))
    request = Message(role="user", content=[*next_user_content(t, []), instruction])
    turn = await model.complete(
        system,
        [*t.messages, request],
        tools,
        on_retry,
        tool_choice="none",
        max_tokens=config.max_summary_tokens,
    )
    summary = turn.text.strip()
    if not summary:
        return None
    return Compacted(
        # The task stays first, word for word: it is the session's anchor (and how the test stand-in routes).
        content=[TextBlock(text=task_text(t)), TextBlock(text=compacted_summary(summary))],
        replaced_steps=sum(m.role == "assistant" for m in t.messages),
        usage=turn.usage,
        model=turn.model,
        cost_usd=turn.cost_usd,
    )
