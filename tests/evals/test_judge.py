"""The model judge, through the real Anthropic client against the scripted stand-in: a verdict, its own usage and
cost, and a judge that does not give one fails the rubric rather than passing it."""

from collections.abc import AsyncIterator

import pytest

from evals.judge import judge
from harness.anthropic_config import AnthropicConfig
from harness.anthropic_model import AnthropicModel
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, ScriptedUsage, text, tool_use

USAGE = ScriptedUsage(input_tokens=2000, output_tokens=50, cache_creation_input_tokens=0, cache_read_input_tokens=0)


async def test_a_verdict_and_its_own_cost(standin: AnthropicStandIn, model: AnthropicModel) -> None:
    verdict = tool_use("verdict", {"passed": True, "reason": "all three points are met"})
    script = standin_script(standin, [Reply(verdict, usage=USAGE)], "[judge:yes]")
    got = await judge(model, rubric="[judge:yes] names the path", diff="+x\n", summary="done")
    assert (got.passed, got.reason, got.input_tokens, got.output_tokens) == (True, "all three points are met", 2000, 50)
    assert got.cost_usd == 2000 * 3 / 1e6 + 50 * 15 / 1e6
    [request] = script.requests
    assert "[judge:yes] names the path" in request.user_text() and "+x" in request.user_text()


async def test_no_verdict_fails_the_rubric(standin: AnthropicStandIn, model: AnthropicModel) -> None:
    standin_script(standin, [Reply(text("Looks fine to me."), usage=USAGE)], "[judge:chatty]")
    got = await judge(model, rubric="[judge:chatty] anything", diff="", summary="")
    assert (got.passed, got.reason) == (False, "judge gave no verdict")


def standin_script(standin: AnthropicStandIn, replies: list[Reply], key: str) -> Script:
    script = Script(replies, key=key)
    standin.register(script)
    return script


@pytest.fixture
async def model(standin: AnthropicStandIn) -> AsyncIterator[AnthropicModel]:
    config = AnthropicConfig(api_key="sk-judge-test", base_url=standin.base_url, model="claude-sonnet-4-6")
    client = AnthropicModel(config)
    yield client
    await client.close()
