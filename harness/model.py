"""The interface every model client implements, and the retry decision they share."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, Protocol, TypeVar

from harness.messages import Message, ModelTurn, ToolSpec

RetryCallback = Callable[[int, float, str], Awaitable[None]]
"""(attempt, wait_s, error) — called before sleeping, so people watching see why it is slow."""
ToolChoice = Literal["auto", "none"]
"""none: the tools stay in the request (same cached prefix; the API needs them to read past tool calls) but the
model must answer in text. Used for the summaries the harness asks for (compaction, the wrap-up report)."""


class Model(Protocol):
    name: str
    context_window_tokens: int
    """How much the model reads per request; the loop compacts the conversation before it gets there."""

    async def complete(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        on_retry: RetryCallback | None = None,
        *,
        tool_choice: ToolChoice = "auto",
        max_tokens: int | None = None,
    ) -> ModelTurn:
        """One assistant turn. max_tokens, when given, caps this response below the configured maximum."""
        ...


RETRYABLE_STATUS = frozenset({408, 409, 429})
RETRYABLE_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


def retry_delay_s(
    attempt: int, *, max_retries: int, base_s: float, retry_after_s: float | None, cap_s: float = 60.0
) -> float | None:
    """Seconds to wait before retry number `attempt` (1-based), or None when we should give up."""
    if attempt > max_retries:
        return None
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), cap_s)
    return min(base_s * 2 ** (attempt - 1), cap_s)


T = TypeVar("T")
E = TypeVar("E", bound=Exception)


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    errors: tuple[type[E], ...],
    retryable: Callable[[E], bool],
    retry_after_s: Callable[[E], float | None],
    max_retries: int,
    base_s: float,
    describe: Callable[[E], str],
    fail: Callable[[E], Exception],
    on_retry: RetryCallback | None,
) -> T:
    """The retry loop every model client shares: the vendor says what is retryable and what the server asked for;
    retry_delay_s decides; `on_retry` tells the log; `fail` says why we gave up."""
    attempt = 0
    while True:
        try:
            return await call()
        except errors as e:
            attempt += 1
            wait_s = retry_delay_s(attempt, max_retries=max_retries, base_s=base_s, retry_after_s=retry_after_s(e))
            if not retryable(e) or wait_s is None:
                raise fail(e) from e
            if on_retry is not None:
                await on_retry(attempt, wait_s, describe(e))
            await asyncio.sleep(wait_s)
