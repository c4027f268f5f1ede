"""The interface every model client implements, and the retry decision they share."""

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from harness.messages import Message, ModelTurn, ToolSpec

RetryCallback = Callable[[int, float, str], Awaitable[None]]
"""(attempt, wait_s, error) — called before sleeping, so people watching see why it is slow."""


class Model(Protocol):
    name: str

    async def complete(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        on_retry: RetryCallback | None = None,
    ) -> ModelTurn: ...


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
