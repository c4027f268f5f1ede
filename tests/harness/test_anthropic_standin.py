"""The scripted Anthropic stand-in, driven by the REAL anthropic SDK (it is never a real model)."""

import asyncio
import json
import time

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam

from harness.testing.anthropic_standin import (
    AnthropicStandIn,
    ApiError,
    JsonObject,
    MidStreamError,
    RecordedRequest,
    Reply,
    Script,
    ScriptedAnswer,
    ScriptedUsage,
    text,
    tool_use,
)

MODEL = "claude-sonnet-4-6"  # not in the SDK's deprecated list: a DeprecationWarning would fail the run
HELLO: list[MessageParam] = [{"role": "user", "content": "hello"}]


def sdk(standin: AnthropicStandIn, max_retries: int = 0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=standin.base_url, api_key="test-key", max_retries=max_retries)


def tool_turn(tool_id: str, result: str) -> list[MessageParam]:
    """A valid transcript: the user asks, the assistant calls a tool, the user answers with its result."""
    return [
        {"role": "user", "content": "read it"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": "read_file", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": result}]},
    ]


async def test_streaming_text_reply() -> None:
    with AnthropicStandIn(Script([Reply("Hello from the script, not a model.")])) as standin:
        async with (
            sdk(standin) as client,
            client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream,
        ):
            chunks = [chunk async for chunk in stream.text_stream]
            message = await stream.get_final_message()

    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the script, not a model."
    assert len(chunks) >= 2, "text arrives in several deltas"
    assert message.stop_reason == "end_turn"
    assert message.model == MODEL
    assert message.usage.output_tokens == len(json.dumps([message.content[0].to_dict()])) // 4
    assert standin.requests[0].stream
    assert standin.problems == []


async def test_streaming_tool_use_input_arrives_intact() -> None:
    tool_input: JsonObject = {
        "path": "src/app.py",
        "lines": [1, 20],
        "options": {"follow": True, "note": 'ünïcode "quoted"'},
    }
    script = Script([Reply(text("Let me look."), tool_use("read_file", tool_input, id="toolu_01"))])
    with AnthropicStandIn(script) as standin:
        async with (
            sdk(standin) as client,
            client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream,
        ):
            events = [event async for event in stream]
            message = await stream.get_final_message()

    assert message.stop_reason == "tool_use"
    call = message.content[1]
    assert call.type == "tool_use"
    assert (call.id, call.name, call.input) == ("toolu_01", "read_file", tool_input)
    json_deltas = [e for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
    assert len(json_deltas) >= 2, "tool input JSON is split so the SDK must concatenate it"


async def test_non_streaming_create() -> None:
    call = tool_use("run", {"cmd": "ls"})
    script = Script([Reply(text("Running."), call, usage=ScriptedUsage(input_tokens=1234, output_tokens=56))])
    with AnthropicStandIn(script) as standin:
        async with sdk(standin) as client:
            message = await client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)

    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].type == "tool_use" and message.content[1].id == call.id
    assert message.stop_reason == "tool_use" and message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (1234, 56)
    assert (message.usage.cache_creation_input_tokens, message.usage.cache_read_input_tokens) == (0, 0)
    assert not standin.requests[0].stream


async def test_wire_format_of_a_stream() -> None:
    """Event names, order, the ping, and each event's `data` type, read straight off the socket."""
    # Two characters of text and of tool-input JSON ("{}"): each arrives as exactly two deltas.
    with AnthropicStandIn(Script([Reply(text("Hi"), tool_use("noop", {}))])) as standin:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{standin.base_url}/v1/messages",
                headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
                json={"model": MODEL, "max_tokens": 10, "messages": HELLO, "stream": True},
            )

    assert response.headers["content-type"].startswith("text/event-stream")
    events = [chunk.split("\n") for chunk in response.text.strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    for lines in events:
        assert json.loads(lines[1].removeprefix("data: "))["type"] == lines[0].removeprefix("event: ")
    block = ["content_block_start", "content_block_delta", "content_block_delta", "content_block_stop"]
    assert names == ["message_start", "ping", *block, *block, "message_delta", "message_stop"]


async def test_responder_step_sees_the_tool_results() -> None:
    def answer(request: RecordedRequest) -> ScriptedAnswer:
        results = request.tool_results()
        return Reply(f"the file says: {results[0].text}") if results else ApiError(500, "api_error", "no result")

    script = Script([Reply(tool_use("read_file", {"path": "x"}, id="toolu_r")), answer])
    with AnthropicStandIn(script) as standin:
        async with sdk(standin) as client:
            first = await client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
            messages: list[MessageParam] = [
                *HELLO,
                {"role": "assistant", "content": first.content},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_r", "content": [{"type": "text", "text": "42"}]},
                        {"type": "text", "text": "keep going"},
                    ],
                },
            ]
            second = await client.messages.create(model=MODEL, max_tokens=100, messages=messages)

    assert second.content[0].type == "text" and second.content[0].text == "the file says: 42"
    last = standin.requests[-1]
    assert [(r.tool_use_id, r.text, r.is_error) for r in last.tool_results()] == [("toolu_r", "42", False)]
    assert last.user_text() == "keep going"
    standin.assert_all_consumed()


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (
            [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_x", "name": "t", "input": {}}]},
                {"role": "user", "content": "what happened?"},
            ],
            "tool_use ids were found without tool_result blocks immediately after: toolu_x",
        ),
        (
            [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_x", "name": "t", "input": {}}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "first"},
                        {"type": "tool_result", "tool_use_id": "toolu_x", "content": "late"},
                    ],
                },
            ],
            "tool_use ids were found without tool_result blocks immediately after: toolu_x",
        ),
        (
            [
                *tool_turn("toolu_x", "ok")[:2],
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_x", "content": "ok"},
                        {"type": "tool_result", "tool_use_id": "toolu_y", "content": "made up"},
                    ],
                },
            ],
            "unexpected tool_use_id found in tool_result blocks: toolu_y",
        ),
        ([], "at least one message is required"),
        ([{"role": "assistant", "content": "hi"}], 'first message must use the "user" role'),
        (
            [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": []},
                {"role": "user", "content": "and now?"},
            ],
            "messages.1: all messages must have non-empty content except for the optional final assistant message",
        ),
        (
            [
                *tool_turn("toolu_x", "ok")[:2],
                {"role": "user", "content": "first"},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "late"}]},
            ],
            "tool_use ids were found without tool_result blocks immediately after: toolu_x",
        ),
    ],
    ids=[
        "no-tool-result",
        "tool-result-not-first",
        "unknown-tool-use-id",
        "empty",
        "assistant-first",
        "empty-assistant-message",
        "tool-result-not-first-of-the-combined-turn",
    ],
)
async def test_invalid_transcript_is_rejected_like_the_api(messages: list[MessageParam], expected: str) -> None:
    script = Script([Reply("never sent")])
    with AnthropicStandIn(script) as standin:
        async with sdk(standin) as client:
            with pytest.raises(anthropic.BadRequestError) as caught:
                await client.messages.create(model=MODEL, max_tokens=100, messages=messages)

    assert caught.value.type == "invalid_request_error"
    assert caught.value.api_message is not None and expected in caught.value.api_message
    assert script.remaining == 1, "a rejected request consumes no step"
    assert len(standin.requests) == 1 and len(standin.problems) == 1


async def test_consecutive_user_messages_are_one_turn_as_the_api_documents() -> None:
    """MessageCreateParams.messages: "Consecutive `user` or `assistant` turns in your request will be combined into
    a single turn"; tool results first in that turn is what counts."""
    messages: list[MessageParam] = [
        *tool_turn("toolu_x", "ok")[:2],
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "ok"}]},
        {"role": "user", "content": "and the docs"},
    ]
    with AnthropicStandIn(Script([Reply("thanks")])) as standin:
        async with sdk(standin) as client:
            await client.messages.create(model=MODEL, max_tokens=10, messages=messages)
    assert standin.problems == []


async def test_valid_tool_transcript_is_accepted() -> None:
    with AnthropicStandIn(Script([Reply("thanks")])) as standin:
        async with sdk(standin) as client:
            message = await client.messages.create(model=MODEL, max_tokens=10, messages=tool_turn("toolu_ok", "done"))
    assert message.content[0].type == "text"
    assert standin.problems == []


async def test_rate_limit_carries_retry_after() -> None:
    with AnthropicStandIn(Script([ApiError(429, "rate_limit_error", "Slow down", retry_after_s=7)])) as standin:
        async with sdk(standin) as client:
            with pytest.raises(anthropic.RateLimitError) as caught:
                await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)

    assert caught.value.response.headers["retry-after"] == "7"
    assert (caught.value.type, caught.value.api_message) == ("rate_limit_error", "Slow down")
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")
    assert len(standin.requests) == 1


async def test_sdk_retries_past_scripted_overload() -> None:
    # The SDK sleeps exactly retry-after when it is positive, so 10ms keeps this fast; without the header it
    # would back off 0.375-0.5 s, then 0.75-1 s.
    overloaded = ApiError(529, "overloaded_error", "Overloaded", retry_after_s=0.01)
    rate_limited = ApiError(429, "rate_limit_error", "Slow down", retry_after_s=0.01)
    with AnthropicStandIn(Script([overloaded, rate_limited, Reply("finally")])) as standin:
        async with sdk(standin, max_retries=2) as client:
            started = time.monotonic()
            async with client.messages.stream(model=MODEL, max_tokens=10, messages=HELLO) as stream:
                message = await stream.get_final_message()
            elapsed = time.monotonic() - started

    assert message.content[0].type == "text" and message.content[0].text == "finally"
    assert [r.headers["x-stainless-retry-count"] for r in standin.requests] == ["0", "1", "2"]
    assert elapsed < 5


async def test_mid_stream_error_raises_and_is_not_retried() -> None:
    script = Script([MidStreamError("overloaded_error", "Overloaded", partial_text="I was say"), Reply("unused")])
    with AnthropicStandIn(script) as standin:
        async with sdk(standin, max_retries=2) as client:
            seen: list[str] = []
            with pytest.raises(anthropic.APIStatusError) as caught:
                async with client.messages.stream(model=MODEL, max_tokens=10, messages=HELLO) as stream:
                    async for chunk in stream.text_stream:
                        seen.append(chunk)

    # The HTTP status was 200, so the SDK builds a plain APIStatusError (not OverloadedError) and never retries.
    assert type(caught.value) is anthropic.APIStatusError
    assert caught.value.status_code == 200
    assert (caught.value.type, caught.value.api_message) == ("overloaded_error", "Overloaded")
    assert seen == ["I was say"]
    assert len(standin.requests) == 1 and script.remaining == 1


async def test_mid_stream_error_without_streaming_is_a_plain_529() -> None:
    with AnthropicStandIn(Script([MidStreamError()])) as standin:
        async with sdk(standin) as client:
            with pytest.raises(anthropic.OverloadedError):
                await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)


async def test_missing_api_key_is_401() -> None:
    with AnthropicStandIn(Script([Reply("never sent")])) as standin:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{standin.base_url}/v1/messages",
                headers={"anthropic-version": "2023-06-01"},
                json={"model": MODEL, "max_tokens": 10, "messages": HELLO},
            )
    assert response.status_code == 401
    assert response.json()["error"] == {"type": "authentication_error", "message": "x-api-key header is required"}
    assert standin.requests == []


async def test_wrong_api_key_is_an_sdk_authentication_error() -> None:
    with AnthropicStandIn(Script([Reply("never sent")]), expected_api_key="the-right-key") as standin:
        async with sdk(standin) as client:
            with pytest.raises(anthropic.AuthenticationError):
                await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
        async with anthropic.AsyncAnthropic(base_url=standin.base_url, api_key="the-right-key") as client:
            message = await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert message.content[0].type == "text"


async def test_exhausted_script_fails_loudly_without_sdk_retries() -> None:
    with AnthropicStandIn(Script([Reply("only one")])) as standin:
        async with sdk(standin, max_retries=2) as client:
            await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
            with pytest.raises(anthropic.InternalServerError) as caught:
                await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)

    assert caught.value.api_message == "scripted conversation exhausted after 1 steps"
    assert len(standin.requests) == 2, "x-should-retry: false stops the SDK from retrying"
    assert standin.problems == ["500 api_error: scripted conversation exhausted after 1 steps"]


async def test_responder_that_raises_is_reported() -> None:
    def broken(_request: RecordedRequest) -> ScriptedAnswer:
        raise KeyError("no such tool result")

    with AnthropicStandIn(Script([broken])) as standin:
        async with sdk(standin) as client:
            with pytest.raises(anthropic.InternalServerError) as caught:
                await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert "KeyError" in str(caught.value.api_message)


def test_assert_all_consumed_names_the_leftovers() -> None:
    standin = AnthropicStandIn(Script([Reply("a"), Reply("b")], key="[run:1]"))
    with pytest.raises(AssertionError, match=r"\[run:1\]: 2 of 2 unused"):
        standin.assert_all_consumed()


async def test_routing_serves_concurrent_sessions_from_their_own_scripts() -> None:
    def session_script(key: str) -> Script:
        # Delays interleave the two sessions' requests on the one server.
        steps = [Reply(tool_use("step", {"key": key}, id=f"toolu_{key}_{n}"), delay_s=0.02) for n in range(3)]
        return Script([*steps, Reply(f"done {key}")], key=f"[run:{key}]")

    async def session(client: anthropic.AsyncAnthropic, key: str) -> str:
        messages: list[MessageParam] = [{"role": "user", "content": f"task [run:{key}]: do the thing"}]
        while True:
            message = await client.messages.create(model=MODEL, max_tokens=10, messages=messages)
            if message.stop_reason != "tool_use":
                return message.content[0].text if message.content[0].type == "text" else ""
            call = message.content[0]
            assert call.type == "tool_use" and call.input == {"key": key}
            messages.append({"role": "assistant", "content": message.content})
            messages.append(
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "ok"}]}
            )

    a, b = session_script("a"), session_script("b")
    with AnthropicStandIn(a, b) as standin:
        async with sdk(standin) as client:
            results = await asyncio.gather(session(client, "a"), session(client, "b"))

    assert results == ["done a", "done b"]
    assert [r.script_key for r in a.requests] == ["[run:a]"] * 4
    assert len(b.requests) == 4
    keys = [r.script_key for r in standin.requests]
    assert keys != sorted(keys), "the sessions' requests interleaved"
    standin.assert_all_consumed()


async def test_routing_falls_back_to_the_default_and_fails_loudly_without_one() -> None:
    keyed = Script([Reply("keyed")], key="[run:k]")
    with AnthropicStandIn(keyed, Script([Reply("default")])) as standin:
        async with sdk(standin) as client:
            message = await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert message.content[0].type == "text" and message.content[0].text == "default"
    assert standin.requests[0].script_key is None

    with AnthropicStandIn(Script([Reply("keyed")], key="[run:k]")) as standin:
        async with sdk(standin) as client:
            with pytest.raises(anthropic.InternalServerError, match="no script key appears"):
                await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)


async def test_prompt_caching_is_simulated() -> None:
    cached = {"type": "ephemeral"}
    system = [{"type": "text", "text": "You are a scripted test. " * 40, "cache_control": cached}]
    tools = [{"name": "read_file", "description": "Read.", "input_schema": {"type": "object"}, "cache_control": cached}]
    with AnthropicStandIn(Script([Reply("one"), Reply("two"), Reply("three")])) as standin:
        async with sdk(standin) as client:
            first = await client.messages.create(model=MODEL, max_tokens=10, system=system, tools=tools, messages=HELLO)
            second = await client.messages.create(
                model=MODEL, max_tokens=10, system=system, tools=tools, messages=[{"role": "user", "content": "more"}]
            )
            uncached = await client.messages.create(model=MODEL, max_tokens=10, system="plain", messages=HELLO)

    assert first.usage.cache_creation_input_tokens and first.usage.cache_creation_input_tokens > 200
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert (uncached.usage.cache_creation_input_tokens, uncached.usage.cache_read_input_tokens) == (0, 0)
    assert standin.requests[0].cache_control_paths() == ["tools.0", "system.0"]
    assert standin.requests[2].cache_control_paths() == []
