"""The OpenAI-compatible provider, with the real `openai` SDK against a local stand-in of chat completions that
checks transcripts as the API does; and sessions that choose it, per session and per repository."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from spine import marker, settings_for, start, wait_status, worker_running

from control_plane.models import NewSession
from control_plane.runtime import Runtime
from control_plane.sessions import create_session
from harness.errors import ConfigError, ModelAPIError
from harness.messages import Message, TextBlock, ToolResultBlock, ToolSpec, ToolUseBlock
from harness.openai_config import OpenAIConfig
from harness.openai_model import OpenAIModel
from harness.pricing import Price
from harness.providers import ModelChoice
from harness.testing.anthropic_standin import AnthropicStandIn, ApiError, Reply, Script, tool_use
from harness.testing.openai_standin import OpenAIStandIn

SHELL = ToolSpec(
    name="shell",
    description="Run a command.",
    input_schema={"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
)


@pytest.fixture
def oai() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn(expected_api_key="sk-local") as s:
        yield s


def model_for(oai: OpenAIStandIn, **overrides: object) -> OpenAIModel:
    config = OpenAIConfig(base_url=oai.base_url, api_key="sk-local", model="qwen-test", retry_base_s=0.01)
    return OpenAIModel(config.model_copy(update=overrides))


async def test_tool_call_round_trip_usage_and_cost(oai: OpenAIStandIn) -> None:
    tag = marker()
    call = tool_use("shell", {"command": "ls"}, id="call_1")
    oai.register(Script([Reply("Listing.", call), Reply("Two files.")], key=tag))
    model = model_for(oai, price=Price(input_per_mtok=1.0, output_per_mtok=2.0))
    first = [Message(role="user", content=[TextBlock(text=f"[ana]: {tag} what is here?")])]
    turn = await model.complete("be brief", first, [SHELL])
    assert turn.stop_reason == "tool_use"
    assert turn.content == [
        TextBlock(text="Listing."),
        ToolUseBlock(id="call_1", name="shell", input={"command": "ls"}),
    ]
    assert turn.usage.input_tokens > 0 and turn.usage.output_tokens > 0
    assert turn.cost_usd == pytest.approx((turn.usage.input_tokens + 2 * turn.usage.output_tokens) / 1e6)

    second = [
        *first,
        Message(role="assistant", content=turn.content),
        Message(
            role="user",
            content=[ToolResultBlock(tool_use_id="call_1", content="a b"), TextBlock(text="[bo]: and hidden ones?")],
        ),
    ]
    turn2 = await model.complete("be brief", second, [SHELL])
    await model.close()
    assert (turn2.stop_reason, turn2.text) == ("end_turn", "Two files.")
    assert turn2.usage.cache_read_input_tokens > 0  # the same system, tools and first message: a cached prefix
    req = oai.requests[1]
    assert [m["role"] for m in req.messages] == ["system", "user", "assistant", "tool", "user"]
    assert req.messages[2]["tool_calls"][0]["function"] == {"name": "shell", "arguments": '{"command": "ls"}'}
    assert req.tool_messages() == [{"role": "tool", "tool_call_id": "call_1", "content": "a b"}]
    assert req.last_user_text() == "[bo]: and hidden ones?"
    assert req.tools[0] == {
        "type": "function",
        "function": {"name": "shell", "description": "Run a command.", "parameters": SHELL.input_schema},
    }
    assert oai.problems == []


async def test_retries_rate_limits_and_server_errors_then_succeeds(oai: OpenAIStandIn) -> None:
    tag, retries = marker(), []
    steps = [
        ApiError(429, "rate_limit_exceeded", "slow down", retry_after_s=0.01),
        ApiError(503, "server_error", "busy"),
    ]
    oai.register(Script([*steps, Reply("ok")], key=tag))
    model = model_for(oai)

    async def on_retry(attempt: int, wait_s: float, error: str) -> None:
        retries.append((attempt, error.split(":")[0]))

    turn = await model.complete("s", [Message(role="user", content=[TextBlock(text=tag)])], [], on_retry)
    await model.close()
    assert turn.text == "ok" and retries == [(1, "429"), (2, "503")]


@pytest.mark.parametrize(
    ("answer", "raised", "says"),
    [
        (ApiError(400, "invalid_request_error", "context length exceeded"), ModelAPIError, "400"),
        (ApiError(401, "invalid_request_error", "Incorrect API key provided"), ConfigError, "rejected the API key"),
    ],
)
async def test_errors_that_cannot_be_retried(
    oai: OpenAIStandIn, answer: ApiError, raised: type[Exception], says: str
) -> None:
    tag = marker()
    oai.register(Script([answer], key=tag))
    model = model_for(oai)
    with pytest.raises(raised, match=says):
        await model.complete("s", [Message(role="user", content=[TextBlock(text=tag)])], [])
    await model.close()
    assert len(oai.requests) == 1


async def test_the_standin_refuses_unanswered_tool_calls(oai: OpenAIStandIn) -> None:
    tag = marker()
    oai.register(Script([Reply("never")], key=tag))
    model = model_for(oai)
    broken = [
        Message(role="user", content=[TextBlock(text=tag)]),
        Message(role="assistant", content=[ToolUseBlock(id="call_lost", name="shell", input={})]),
        Message(role="user", content=[TextBlock(text="hello?")]),
    ]
    with pytest.raises(ModelAPIError, match="did not have response messages: call_lost"):
        await model.complete("s", broken, [SHELL])
    await model.close()


@pytest.mark.parametrize(
    ("text", "provider", "name"),
    [
        ("claude-sonnet-4-6", "anthropic", "claude-sonnet-4-6"),
        ("anthropic:claude-opus-4-5", "anthropic", "claude-opus-4-5"),
        ("openai:qwen2.5-coder:32b", "openai", "qwen2.5-coder:32b"),
    ],
)
def test_model_choice(text: str, provider: str, name: str) -> None:
    assert ModelChoice.parse(text) == ModelChoice.model_validate({"provider": provider, "model": name})


@pytest.mark.parametrize("bad", ["openai:", "", "x y", "openai:../../etc"])
def test_bad_model_choice(bad: str) -> None:
    with pytest.raises(ConfigError):
        ModelChoice.parse(bad)


async def test_sessions_choose_the_provider_per_session_and_per_repository(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, oai: OpenAIStandIn, remote: Path, redis: object
) -> None:
    by_session, by_repo, default = marker(), marker(), marker()
    for tag in (by_session, by_repo):
        oai.register(Script([Reply(tool_use("finish", {"summary": f"done on qwen {tag}"}))], key=tag))
    standin.register(Script([Reply(tool_use("finish", {"summary": "done on claude"}))], key=default))
    other = tmp_path / "other.git"
    shutil.copytree(remote, other)  # another repository, with its own model choice
    settings = settings_for(
        tmp_path,
        redis_url,
        standin.base_url,
        openai_base_url=oai.base_url,
        openai_api_key="sk-local",
        repo_models={str(other): "openai:qwen-by-repo"},
    )
    async with Runtime.open(settings) as rt:
        req = NewSession(repo=str(remote), prompt=f"{by_session} x", requested_by="ana", model="openai:qwen-by-session")
        chosen = await create_session(rt.store, req, max_prompt_bytes=10_000)
        repo_default = await start(rt, other, f"{by_repo} x")
        plain = await start(rt, remote, f"{default} x")
        async with worker_running(rt):
            finals = [await wait_status(rt, s.id, {"finished", "failed"}) for s in (chosen, repo_default, plain)]
    assert [f.summary for f in finals] == [f"done on qwen {by_session}", f"done on qwen {by_repo}", "done on claude"]
    assert {r.body["model"] for r in oai.requests} == {"qwen-by-session", "qwen-by-repo"}
    assert len(standin.requests) == 1
    assert finals[0].cost_usd == 0.0 and finals[0].input_tokens > 0  # self-hosted: tokens counted, free by default


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [("length", "max_tokens"), ("content_filter", "refusal"), ("stop", "end_turn")],
)
async def test_every_finish_reason_the_sdk_knows_becomes_a_stop_reason(
    oai: OpenAIStandIn, finish: str, stop_reason: str
) -> None:
    tag = marker()
    oai.register(Script([Reply("partial", stop=finish)], key=tag))
    model = model_for(oai)
    turn = await model.complete("s", [Message(role="user", content=[TextBlock(text=tag)])], [])
    await model.close()
    assert turn.stop_reason == stop_reason


async def test_an_unknown_finish_reason_is_a_clear_model_error(oai: OpenAIStandIn) -> None:
    tag = marker()
    oai.register(Script([Reply("half", stop="abort")], key=tag))
    model = model_for(oai)
    with pytest.raises(ModelAPIError, match="finish_reason 'abort'"):
        await model.complete("s", [Message(role="user", content=[TextBlock(text=tag)])], [])
    await model.close()
