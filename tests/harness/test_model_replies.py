"""Every reply the Messages API documents is taken as it says: an empty reply, each stop_reason the SDK knows, a
reply cut at max_tokens (text, or a tool call whose JSON stops midway), and a stop_reason newer than this code.
The scripted stand-in refuses what the real API refuses (an empty message, tool results that are not first), so a
run that ends well sent only requests the API takes."""

import asyncio
from pathlib import Path
from typing import get_args

import anthropic
from spine import marker, start, wait_status, worker_running

from control_plane.models import Session
from control_plane.runtime import Runtime
from harness.events import ModelTurnEvent, ToolStarted, UserMessage
from harness.loop import CONTEXT_FULL
from harness.messages import StopReason
from harness.prompt import go_on_request
from harness.testing.anthropic_standin import (
    AnthropicStandIn,
    RecordedRequest,
    Reply,
    Script,
    ScriptedUsage,
    cut_tool_use,
    tool_use,
)

GO_ON_EMPTY = go_on_request(empty=True)


def test_the_harness_knows_every_stop_reason_the_sdk_knows() -> None:
    assert set(get_args(anthropic.types.StopReason)) == set(get_args(StopReason))


async def _run(rt: Runtime, remote: Path, prompt: str) -> Session:
    session = await start(rt, remote, prompt)
    async with worker_running(rt):
        return await wait_status(rt, session.id, {"finished", "failed", "cancelled"})


async def _follow_up(rt: Runtime, session_id: str, text: str, run: int) -> Session:
    async with worker_running(rt):
        _, reopened = await rt.store.post_message(session_id, UserMessage(text=text, author="bo"))
        assert reopened
        async with asyncio.timeout(30):
            while (s := await rt.store.get(session_id)).run < run or s.status not in {"finished", "failed"}:
                await asyncio.sleep(0.05)
    return s


def _no_empty_message(req: RecordedRequest) -> None:
    assert all(m["content"] for m in req.messages), req.messages


async def test_an_empty_reply_after_tool_results_is_asked_about_once_and_never_sent_back(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, seen = marker(), []

    def answer_follow_up(req: RecordedRequest) -> Reply:
        seen.append(req)
        return Reply("It lists README.md.")

    check = tool_use("shell", {"command": "ls"})
    standin.register(Script([Reply(check), Reply(), Reply(), answer_follow_up], key=tag))
    first = await _run(rt, remote, f"{tag} look around")
    assert (first.status, first.summary) == ("finished", "the model ended its turn without a reply")
    nudge = standin.requests[2]
    assert [r.tool_use_id for r in nudge.tool_results()] == [check.id]  # still first, in the same message
    assert GO_ON_EMPTY in nudge.user_text()
    # The follow-up the empty reply used to make impossible (400: an empty assistant message).
    second = await _follow_up(rt, first.id, "what is there?", run=2)
    assert (second.status, second.summary) == ("finished", "It lists README.md."), second.error
    [req] = seen
    _no_empty_message(req)
    assert [m["role"] for m in req.messages] == ["user", "assistant", "user"]
    assert [r.tool_use_id for r in req.tool_results()] == [check.id]
    assert req.user_text().endswith("[bo]: what is there?")
    standin.assert_all_consumed()


async def test_a_reply_after_the_nudge_goes_on_with_the_task(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    standin.register(Script([Reply(tool_use("shell", {"command": "ls"})), Reply(), Reply("All checked.")], key=tag))
    session = await _run(rt, remote, f"{tag} look around")
    assert (session.status, session.summary) == ("finished", "All checked.")
    _no_empty_message(standin.requests[-1])


async def test_a_text_reply_cut_at_max_tokens_is_continued_and_reported_whole(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    standin.register(Script([Reply("The plan: first ", stop="max_tokens"), Reply("then second.")], key=tag))
    session = await _run(rt, remote, f"{tag} plan it")
    assert (session.status, session.summary) == ("finished", "The plan: first then second.")
    assert "max_tokens" in standin.requests[1].user_text()
    assert standin.requests[1].messages[-2]["content"] == [{"type": "text", "text": "The plan: first "}]


async def test_a_reply_cut_again_and_again_ends_the_run_saying_it_was_cut(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    standin.register(Script([Reply(f"part {i}. ", stop="max_tokens") for i in range(4)], key=tag))
    session = await _run(rt, remote, f"{tag} write a lot")
    assert session.status == "finished"
    assert session.summary.startswith("part 0. part 1. part 2. part 3. \n\n[cut: the reply was cut off")
    assert "4 times in a row" in session.summary
    standin.assert_all_consumed()  # 1 + max_continuations (3) requests, no more


async def test_a_tool_call_cut_at_max_tokens_is_not_run_and_the_model_is_told(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, results = marker(), []

    def after_cut(req: RecordedRequest) -> Reply:
        results.extend(req.tool_results())
        return Reply("Done in smaller steps.")

    cut = cut_tool_use("shell", '{"command": "rm -rf bu', id="toolu_cut")
    standin.register(Script([Reply("Cleaning up.", cut, stop="max_tokens"), after_cut], key=tag))
    session = await _run(rt, remote, f"{tag} clean up")
    assert (session.status, session.summary) == ("finished", "Done in smaller steps.")
    [result] = results
    assert (result.tool_use_id, result.is_error) == ("toolu_cut", True)
    assert "max_tokens" in result.text
    events = [e.event for e in await rt.store.events(session.id)]
    assert not [e for e in events if isinstance(e, ToolStarted)]


async def test_pause_turn_goes_on(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    tag = marker()
    standin.register(Script([Reply("Searching", stop="pause_turn"), Reply(" found it.")], key=tag))
    session = await _run(rt, remote, f"{tag} search")
    assert (session.status, session.summary) == ("finished", "Searching found it.")


async def test_refusal_ends_the_run_with_a_clear_message(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    tag = marker()
    standin.register(Script([Reply("I can't help with that.", stop="refusal")], key=tag))
    session = await _run(rt, remote, f"{tag} something")
    assert (session.status, session.error) == ("failed", "the model refused to continue this task")


async def test_an_unknown_stop_reason_fails_the_run_clearly(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    standin.register(Script([Reply("Hm.", stop="some_reason_from_2030")], key=tag))
    session = await _run(rt, remote, f"{tag} something")
    assert session.status == "failed"
    assert "stop_reason 'some_reason_from_2030'" in session.error
    events = [e.event for e in await rt.store.events(session.id)]
    assert not [e for e in events if isinstance(e, ModelTurnEvent)]  # the log keeps its schema


async def test_a_full_context_window_compacts_and_goes_on(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    tag, after = marker(), []

    def after_compaction(req: RecordedRequest) -> Reply:
        after.append(req)
        return Reply("Done after compaction.")

    steps = [
        Reply(tool_use("shell", {"command": "ls"})),
        Reply("Reading the long file: it says", stop="model_context_window_exceeded"),
        Reply("Summary: listed files, was reading the long file."),  # the compaction request
        after_compaction,
    ]
    standin.register(Script(steps, key=tag))
    session = await _run(rt, remote, f"{tag} read everything")
    assert (session.status, session.summary) == ("finished", "Reading the long file: it saysDone after compaction.")
    [req] = after
    assert len(req.messages) == 1  # the compacted start: the task, the summary, the request to go on
    assert "Summary: listed files" in req.user_text()
    standin.assert_all_consumed()


async def test_a_context_window_filled_by_one_exchange_fails_clearly(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    full = Reply("It begins", stop="model_context_window_exceeded", usage=ScriptedUsage(input_tokens=190_000))
    standin.register(Script([full], key=tag))
    session = await _run(rt, remote, f"{tag} read everything")
    assert (session.status, session.error) == ("failed", CONTEXT_FULL)
