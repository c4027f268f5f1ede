"""OpenAI-compatible chat completions: function calling, retries with backoff, usage and cost per call.

For self-hosted open models (vLLM, Ollama, llama.cpp's server) and vendors that speak the same API. Our
transcript maps onto chat messages as follows: a user turn's tool_result blocks become `tool` messages (they
must directly follow the assistant message that called the tools), its text blocks one `user` message after
them; an assistant turn becomes one message with `content` and `tool_calls`.
"""

import json
import uuid
from collections.abc import Sequence

import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)
from pydantic import JsonValue

from harness.errors import ConfigError, ModelAPIError
from harness.messages import (
    ContentBlock,
    Message,
    ModelTurn,
    StopReason,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
)
from harness.model import RETRYABLE_STATUS, RetryCallback, ToolChoice, call_with_retries
from harness.openai_config import OpenAIConfig
from harness.pricing import cost_usd

_STOP: dict[str, StopReason] = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


class OpenAIModel:
    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.name = config.model
        self.context_window_tokens = config.context_window_tokens
        # Our own retry loop (max_retries=0 here) reports each retry to the session log.
        self._client = openai.AsyncOpenAI(
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
            errors=(openai.APIStatusError, openai.APIConnectionError),
            retryable=_retryable,
            retry_after_s=_retry_after,
            max_retries=self.config.max_retries,
            base_s=self.config.retry_base_s,
            describe=_describe,
            fail=_as_model_error,
            on_retry=on_retry,
        )

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
        completion = await self._client.chat.completions.create(
            model=self.config.model,
            messages=chat_messages(system, messages),
            tools=[_tool_param(t) for t in tools] if tools else openai.omit,
            tool_choice=tool_choice if tools else openai.omit,
            max_tokens=max_tokens,
        )
        return self._turn(completion)

    def _turn(self, completion: ChatCompletion) -> ModelTurn:
        if not completion.choices:
            raise ModelAPIError("the model API answered with no choices", retryable=False)
        choice = completion.choices[0]
        content = _content(choice.message)
        if choice.finish_reason is not None and choice.finish_reason not in _STOP:
            # The SDK passes through values servers add (vLLM's "abort", ...): fail this run, clearly.
            raise ModelAPIError(
                f"the model API ended its reply with finish_reason {choice.finish_reason!r}, which this version of "
                "Nightshift does not know how to continue from"
            )
        stop = _STOP.get(choice.finish_reason)
        if stop == "end_turn" and any(isinstance(b, ToolUseBlock) for b in content):
            stop = "tool_use"  # some servers (Ollama) say "stop" for a turn that calls tools
        usage = _usage(completion)
        return ModelTurn(
            content=content,
            stop_reason=stop,
            usage=usage,
            model=completion.model or self.config.model,
            cost_usd=cost_usd(self.config.model, usage, {self.config.model: self.config.price}),
        )


def chat_messages(system: str, messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
    out: list[ChatCompletionMessageParam] = [{"role": "system", "content": system}]
    for message in messages:
        out += _assistant(message.content) if message.role == "assistant" else _user(message.content)
    return out


def _user(blocks: Sequence[ContentBlock]) -> list[ChatCompletionMessageParam]:
    out: list[ChatCompletionMessageParam] = [
        {"role": "tool", "tool_call_id": b.tool_use_id, "content": ("[error] " if b.is_error else "") + b.content}
        for b in blocks
        if isinstance(b, ToolResultBlock)
    ]
    texts = [b.text for b in blocks if isinstance(b, TextBlock)]
    if texts:
        out.append({"role": "user", "content": "\n\n".join(texts)})
    return out


def _assistant(blocks: Sequence[ContentBlock]) -> list[ChatCompletionMessageParam]:
    text = "\n".join(b.text for b in blocks if isinstance(b, TextBlock))
    calls: list[ChatCompletionMessageFunctionToolCallParam] = [
        {"id": b.id, "type": "function", "function": {"name": b.name, "arguments": json.dumps(b.input)}}
        for b in blocks
        if isinstance(b, ToolUseBlock)
    ]
    if calls:
        return [{"role": "assistant", "content": text or None, "tool_calls": calls}]
    return [{"role": "assistant", "content": text}]


def _tool_param(spec: ToolSpec) -> ChatCompletionToolParam:
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.input_schema},
    }


def _content(message: ChatCompletionMessage) -> list[ContentBlock]:
    out: list[ContentBlock] = []
    if message.content:
        out.append(TextBlock(text=message.content))
    for call in message.tool_calls or []:
        if call.type != "function":
            continue  # custom (free-form) tools: we never offer any
        out.append(
            ToolUseBlock(
                id=call.id or f"call_{uuid.uuid4().hex[:24]}",
                name=call.function.name,
                input=_arguments(call.function.arguments),
            )
        )
    return out


def _arguments(raw: str) -> dict[str, JsonValue]:
    """Open models sometimes send arguments that are not a JSON object; the tool then reports bad input."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"unparsed_arguments": raw}
    return value if isinstance(value, dict) else {"unparsed_arguments": raw}


def _usage(completion: ChatCompletion) -> Usage:
    if completion.usage is None:
        return Usage()  # some servers omit usage; the step budget still bounds the run
    details = completion.usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    return Usage(
        input_tokens=completion.usage.prompt_tokens - cached,
        output_tokens=completion.usage.completion_tokens,
        cache_read_input_tokens=cached,
    )


def _retryable(e: openai.APIError) -> bool:
    if isinstance(e, openai.APIConnectionError):
        return True
    assert isinstance(e, openai.APIStatusError)
    return e.status_code in RETRYABLE_STATUS or e.status_code >= 500


def _retry_after(e: openai.APIError) -> float | None:
    if not isinstance(e, openai.APIStatusError):
        return None
    value = e.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP-date retry-after: fall back to our own backoff


def _describe(e: openai.APIError) -> str:
    if isinstance(e, openai.APIStatusError):
        return f"{e.status_code}: {e.message}"[:500]
    return f"connection error: {e}"[:500]


def _as_model_error(e: openai.APIError) -> ModelAPIError | ConfigError:
    if isinstance(e, openai.AuthenticationError):
        return ConfigError("the OpenAI-compatible endpoint rejected the API key (401): check NIGHTSHIFT_OPENAI_API_KEY")
    status = e.status_code if isinstance(e, openai.APIStatusError) else None
    return ModelAPIError(f"model API error: {_describe(e)}", status_code=status, retryable=_retryable(e))
