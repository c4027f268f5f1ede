"""Anthropic Messages API client: streaming, tool use, prompt caching, retries with backoff."""

from collections.abc import Sequence
from typing import get_args

import anthropic
from pydantic import JsonValue

from harness.anthropic_config import AnthropicConfig
from harness.errors import ConfigError, ModelAPIError
from harness.messages import ContentBlock, Message, ModelTurn, StopReason, TextBlock, ToolSpec, ToolUseBlock, Usage
from harness.model import (
    RETRYABLE_ERROR_TYPES,
    RETRYABLE_STATUS,
    RetryCallback,
    ToolChoice,
    call_with_retries,
)
from harness.pricing import cost_usd

Json = dict[str, JsonValue]
CACHE = {"type": "ephemeral"}


class AnthropicModel:
    def __init__(self, config: AnthropicConfig) -> None:
        self.config = config
        self.name = config.model
        self.context_window_tokens = config.context_window_tokens
        # Our own retry loop (max_retries=0 here) reports each retry to the session log.
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key, base_url=config.base_url, max_retries=0, timeout=config.request_timeout_s
        )

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
        return await call_with_retries(
            lambda: self._call(system, messages, tools, tool_choice, max_tokens or self.config.max_tokens),
            errors=(anthropic.APIStatusError, anthropic.APIConnectionError),
            retryable=_retryable,
            retry_after_s=_retry_after,
            max_retries=self.config.max_retries,
            base_s=self.config.retry_base_s,
            describe=_describe,
            fail=_as_model_error,
            on_retry=on_retry,
        )

    async def check_access(self) -> None:
        """One cheap call (GET /v1/models/{model}, no tokens spent), for `nightshift doctor`: raises as complete() does
        (ConfigError for a refused key, ModelAPIError with the status, None when the API could not be reached)."""
        try:
            await self._client.models.retrieve(self.config.model)
        except (anthropic.APIStatusError, anthropic.APIConnectionError) as e:
            raise _as_model_error(e) from e

    async def close(self) -> None:
        await self._client.close()

    async def _call(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        tool_choice: ToolChoice,
        max_tokens: int,
    ) -> ModelTurn:
        async with self._client.messages.stream(
            model=self.config.model,
            max_tokens=max_tokens,
            system=[{"type": "text", "text": system, "cache_control": CACHE}],
            tools=_tool_params(tools),
            tool_choice={"type": tool_choice} if tools else anthropic.omit,
            messages=_message_params(messages),
        ) as stream:
            final = await stream.get_final_message()
        if final.stop_reason is not None and final.stop_reason not in get_args(StopReason):
            # The SDK passes through a value newer than itself; stored, it would break the event log's schema.
            raise ModelAPIError(
                f"the model API ended its reply with stop_reason {final.stop_reason!r}, which this version of "
                "Nightshift does not know how to continue from"
            )
        usage = Usage(
            input_tokens=final.usage.input_tokens,
            output_tokens=final.usage.output_tokens,
            cache_creation_input_tokens=final.usage.cache_creation_input_tokens or 0,
            cache_read_input_tokens=final.usage.cache_read_input_tokens or 0,
        )
        return ModelTurn(
            content=_content(final.content),
            stop_reason=final.stop_reason,
            usage=usage,
            model=final.model,
            cost_usd=cost_usd(self.config.model, usage, self.config.prices),
        )


def _tool_params(tools: Sequence[ToolSpec]) -> list[Json]:
    params: list[Json] = [t.model_dump() for t in tools]
    if params:
        params[-1] = {**params[-1], "cache_control": CACHE}  # caches the whole tool list with the system prompt
    return params


def _message_params(messages: Sequence[Message]) -> list[Json]:
    """Two moving breakpoints (with tools and system, the API's maximum of four): on the newest block, which the
    next request reads back, and on the end of the previous user message, where the previous request's breakpoint
    was. The second keeps the cache hit when one turn adds more than the 20 blocks a breakpoint looks back over
    (many parallel tool results), and makes a compaction request, which repeats the conversation and adds one
    instruction, read the whole conversation from cache."""
    params: list[Json] = [m.model_dump() for m in messages]
    users = [p for p in params if p["role"] == "user"]
    assert users and users[-1] is params[-1], "a request ends with a user message"
    for message in users[-2:]:
        content = message["content"]
        assert isinstance(content, list) and content, "user messages are never empty"
        block = content[-1]
        assert isinstance(block, dict)
        content[-1] = {**block, "cache_control": CACHE}
    return params


def _content(blocks: Sequence[anthropic.types.ContentBlock]) -> list[ContentBlock]:
    out: list[ContentBlock] = []
    for b in blocks:
        if b.type == "text":
            out.append(TextBlock(text=b.text))
        elif b.type == "tool_use":
            tool_input = b.input if isinstance(b.input, dict) else {}
            out.append(ToolUseBlock(id=b.id, name=b.name, input=tool_input))
    return out


def _error_type(e: anthropic.APIError) -> str | None:
    body = e.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            kind = error.get("type")
            return kind if isinstance(kind, str) else None
    return None


def _retryable(e: anthropic.APIError) -> bool:
    if isinstance(e, anthropic.APIConnectionError):
        return True
    assert isinstance(e, anthropic.APIStatusError)
    return e.status_code in RETRYABLE_STATUS or e.status_code >= 500 or _error_type(e) in RETRYABLE_ERROR_TYPES


def _retry_after(e: anthropic.APIError) -> float | None:
    if not isinstance(e, anthropic.APIStatusError):
        return None
    value = e.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP-date retry-after: fall back to our own backoff


def _describe(e: anthropic.APIError) -> str:
    if isinstance(e, anthropic.APIStatusError):
        return f"{e.status_code} {_error_type(e) or 'error'}: {e.message}"[:500]
    return f"connection error: {e}"[:500]


def _as_model_error(e: anthropic.APIError) -> ModelAPIError | ConfigError:
    if isinstance(e, anthropic.AuthenticationError):
        return ConfigError("the model API rejected the API key (401): check ANTHROPIC_API_KEY")
    status = e.status_code if isinstance(e, anthropic.APIStatusError) else None
    return ModelAPIError(f"model API error: {_describe(e)}", status_code=status, retryable=_retryable(e))
