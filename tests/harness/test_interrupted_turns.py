"""An interrupted turn (tool_use logged, tool_result never logged: a crash or a cancel) is repaired before the next
model call. The scripted stand-in checks transcripts as the real API does (a tool_use without a tool_result right
after it is a 400), so a resumed session that reaches the end has sent only valid requests."""

import asyncio
from pathlib import Path

import pytest
from spine import SECRET, marker, start, wait_event, wait_status, worker_running

from control_plane.runtime import Runtime
from harness.anthropic_config import AnthropicConfig
from harness.anthropic_model import AnthropicModel
from harness.errors import ModelAPIError
from harness.events import ModelTurnEvent, RunStarted, ToolResult, ToolStarted, UserMessage
from harness.messages import Message, TextBlock, ToolUseBlock, Usage
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use
from harness.transcript import INTERRUPTED


async def test_the_standin_refuses_a_transcript_with_an_unanswered_tool_use(standin: AnthropicStandIn) -> None:
    """The guard the other tests rely on: without the repair, the API (and the stand-in) answers 400."""
    tag = marker()
    standin.register(Script([Reply("never")], key=tag))
    model = AnthropicModel(AnthropicConfig(api_key=SECRET, base_url=standin.base_url, max_retries=0))
    broken = [
        Message(role="user", content=[TextBlock(text=f"{tag} go")]),
        Message(role="assistant", content=[ToolUseBlock(id="toolu_lost", name="shell", input={"command": "ls"})]),
        Message(role="user", content=[TextBlock(text="[bo]: hello?")]),
    ]
    with pytest.raises(ModelAPIError, match="tool_use ids were found without tool_result blocks"):
        await model.complete("system", broken, [])
    await model.close()


async def test_crash_between_tool_use_and_tool_result_resumes_with_a_valid_request(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, seen = marker(), []

    def after_resume(req: RecordedRequest) -> Reply:
        seen.append(req)
        return Reply(tool_use("finish", {"summary": "checked the workspace and finished"}))

    standin.register(Script([after_resume], key=tag))
    session = await start(rt, remote, f"{tag} two commands")
    # What a worker killed mid-turn leaves: the turn with two tool calls logged, the first one started, no result.
    prompt_id = (await rt.store.events(session.id))[-1].id
    await rt.store.update(session.id, run=1)
    await rt.store.set_status(session.id, "running")
    await rt.store.append(session.id, RunStarted(run=1, worker="dead"))
    uses = [
        ToolUseBlock(id="toolu_first", name="shell", input={"command": "touch first"}),
        ToolUseBlock(id="toolu_second", name="shell", input={"command": "touch second"}),
    ]
    turn = ModelTurnEvent(
        step=1,
        content=uses,
        stop_reason="tool_use",
        usage=Usage(),
        model="m",
        cost_usd=0.0,
        delivered_through=prompt_id,
    )
    await rt.store.append(session.id, turn)
    await rt.store.append(session.id, ToolStarted(tool_use_id="toolu_first", name="shell", summary="shell touch first"))
    await rt.store.post_message(session.id, UserMessage(text="written during the outage", author="bo"))

    async with worker_running(rt):
        final = await wait_status(rt, session.id, {"finished", "failed"})
    assert final.status == "finished", final.error
    [req] = seen
    assert [(r.tool_use_id, r.is_error, r.text) for r in req.tool_results()] == [
        ("toolu_first", True, INTERRUPTED),
        ("toolu_second", True, INTERRUPTED),
    ]
    assert req.user_text() == "[bo]: written during the outage"  # after the results, in the same message
    events = [e.event for e in await rt.store.events(session.id)]
    assert [e.name for e in events if isinstance(e, ToolStarted)] == ["shell", "finish"]  # no command ran again
    assert [e.tool_use_id for e in events if isinstance(e, ToolResult)][:2] == ["toolu_first", "toolu_second"]
    assert standin.problems == []


async def test_a_cancelled_tool_call_is_answered_and_a_follow_up_goes_on_from_there(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, seen = marker(), []

    def after_cancel(req: RecordedRequest) -> Reply:
        seen.append(req)
        return Reply(tool_use("finish", {"summary": "done after the cancel"}))

    sleeper = tool_use("shell", {"command": "sleep 60"}, id="toolu_sleeper")
    standin.register(Script([Reply(sleeper), after_cancel], key=tag))
    session = await start(rt, remote, f"{tag} sleep long")
    async with worker_running(rt):
        await wait_event(rt, session.id, "tool_started")
        await asyncio.sleep(0.3)
        await rt.store.request_cancel(session.id)
        await wait_status(rt, session.id, {"cancelled"}, timeout_s=30)
        await rt.store.post_message(session.id, UserMessage(text="never mind, finish", author="ana"))
        final = await wait_status(rt, session.id, {"finished", "failed"}, timeout_s=30)
    assert final.status == "finished", final.error
    [req] = seen
    [result] = req.tool_results()
    assert (result.tool_use_id, result.is_error) == ("toolu_sleeper", True) and "cancelled" in result.text
    assert req.user_text() == "[ana]: never mind, finish"
