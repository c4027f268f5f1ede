"""A whole session, end to end: real Redis, real git, the real anthropic SDK against the scripted stand-in,
the real local sandbox. The stand-in replays scripted turns; it is not a model."""

import asyncio
from pathlib import Path

import pytest
from conftest import sh
from spine import SECRET, marker, run_to_end, settings_for, start, wait_event, wait_status, worker_running

from control_plane.runtime import Runtime
from harness.events import BranchPushed, ModelRetry, RunStarted, ToolResult, UserMessage
from harness.testing.anthropic_standin import (
    AnthropicStandIn,
    ApiError,
    MidStreamError,
    RecordedRequest,
    Reply,
    Script,
    tool_use,
)


def show(remote: Path, ref: str) -> str:
    return sh("git", "--git-dir", str(remote), "show", ref)


FIX = [
    Reply("Let me look.", tool_use("read_file", {"path": "calc.py"})),
    Reply(tool_use("edit_file", {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"})),
    Reply(tool_use("shell", {"command": "python3 -c 'from calc import add; assert add(2, 3) == 5; print(\"ok\")'"})),
    Reply(tool_use("finish", {"summary": "add() now adds; checked add(2, 3) == 5."})),
]


async def test_session_fixes_the_bug_and_pushes_a_branch(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    tag = marker()
    standin.register(Script(FIX, key=tag))
    session = await run_to_end(rt, remote, f"{tag} make add() add")
    assert session.status == "finished", session.error
    assert session.summary == "add() now adds; checked add(2, 3) == 5."
    assert "return a + b" in show(remote, f"{session.branch}:calc.py")
    assert show(remote, "main:calc.py").count("return a - b") == 1  # the base branch is untouched
    files = sh("git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only", session.branch).split()
    assert sorted(files) == ["README.md", "calc.py", "test_calc.py"]  # the test run's __pycache__ is not work
    events = [e.event for e in await rt.store.events(session.id)]
    [pushed] = [e for e in events if isinstance(e, BranchPushed)]
    assert pushed.commit == sh("git", "--git-dir", str(remote), "rev-parse", session.branch).strip()
    results = [e for e in events if isinstance(e, ToolResult)]
    assert "ok" in results[2].output and not results[2].is_error
    assert (session.steps, session.input_tokens > 0, session.cost_usd > 0) == (4, True, True)
    # the second request carries the first tool's result and the system prompt + tools are marked for caching
    assert "return a - b" in standin.requests[1].tool_results()[0].text
    assert {"system.0", f"tools.{len(standin.requests[0].tools) - 1}"} <= set(standin.requests[0].cache_control_paths())


async def test_secrets_never_reach_the_sandbox(
    rt: Runtime, standin: AnthropicStandIn, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)  # the worker's own environment holds the key
    tag = marker()
    probe = "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; git config -l; ls -a ~; ls /proc"
    standin.register(
        Script([Reply(tool_use("shell", {"command": probe})), Reply(tool_use("finish", {"summary": "x"}))], key=tag)
    )
    session = await run_to_end(rt, remote, f"{tag} print the environment")
    [result] = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, ToolResult)][:1]
    assert "PATH=" in result.output  # the probe really ran
    assert SECRET not in result.output and "[REDACTED]" not in result.output  # not leaked, not even redacted
    assert SECRET not in standin.requests[1].tool_results()[0].text
    assert str(rt.settings.data_dir) not in result.output


async def test_follow_up_while_running_reaches_the_next_step(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, seen = marker(), []

    def second(req: RecordedRequest) -> Reply:
        seen.append((req.tool_results()[0].tool_use_id, req.user_text()))
        return Reply(tool_use("finish", {"summary": "done"}))

    standin.register(Script([Reply(tool_use("shell", {"command": "sleep 1"}, id="toolu_sleep")), second], key=tag))
    session = await start(rt, remote, f"{tag} wait a bit")
    async with worker_running(rt):
        await wait_event(rt, session.id, "tool_started")
        await rt.store.post_message(session.id, UserMessage(text="also docs", author="bo"))
        final = await wait_status(rt, session.id, {"finished", "failed"})
    assert final.status == "finished"
    assert seen == [("toolu_sleep", "[bo]: also docs")]  # after the tool result, in the same user message


async def test_message_to_finished_session_starts_a_new_run_with_history(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, history = marker(), []

    def again(req: RecordedRequest) -> Reply:
        history.append(len(req.messages))
        return Reply(tool_use("write_file", {"path": "NOTES.md", "content": "more\n"}))

    steps = [
        Reply(tool_use("write_file", {"path": "NOTES.md", "content": "first\n"})),
        Reply(tool_use("finish", {"summary": "one"})),
        again,
        Reply(tool_use("finish", {"summary": "two"})),
    ]
    standin.register(Script(steps, key=tag))
    session = await start(rt, remote, f"{tag} write notes")
    async with worker_running(rt):
        await wait_status(rt, session.id, {"finished"})
        _, reopened = await rt.store.post_message(session.id, UserMessage(text="change it", author="bo"))
        assert reopened
        async with asyncio.timeout(30):
            final = await rt.store.get(session.id)
            while (final.status, final.run, final.summary) != ("finished", 2, "two"):
                await asyncio.sleep(0.05)
                final = await rt.store.get(session.id)
    assert history == [5]  # prompt, write, result, finish, result + new message: the whole history
    assert show(remote, f"{session.branch}:NOTES.md") == "more\n"
    runs = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, RunStarted)]
    assert [(r.run, r.resumed) for r in runs] == [(1, False), (2, False)]


async def test_budget_exhaustion_pushes_a_checkpoint_and_says_why(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, remote: Path, redis: object
) -> None:
    tag = marker()
    standin.register(
        Script([Reply(tool_use("write_file", {"path": f"f{i}.txt", "content": f"{i}\n"})) for i in range(3)], key=tag)
    )
    async with Runtime.open(settings_for(tmp_path, redis_url, standin.base_url, max_steps=2)) as rt:
        session = await run_to_end(rt, remote, f"{tag} write many files")
        events = [e.event for e in await rt.store.events(session.id)]
    assert session.status == "failed"
    assert "step budget exhausted (2 of 2 model calls)" in session.error
    [pushed] = [e for e in events if isinstance(e, BranchPushed)]
    assert pushed.checkpoint
    assert show(remote, f"{session.branch}:f1.txt") == "1\n"
    assert "WIP (checkpoint)" in sh("git", "--git-dir", str(remote), "log", "-1", "--format=%s", session.branch)
    # two steps of work, then the wrap-up report request: tool-less, so its scripted tool call is never run
    assert len(standin.requests) == 3 and standin.requests[2].body["tool_choice"] == {"type": "none"}
    assert "(the model wrote no report)" in session.error


async def test_model_errors_are_retried_then_the_session_goes_on(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    standin.register(
        Script(
            [
                ApiError(529, "overloaded_error", "Overloaded", retry_after_s=0.01),
                ApiError(429, "rate_limit_error", "slow down", retry_after_s=0.01),
                MidStreamError(),
                Reply(tool_use("finish", {"summary": "made it"})),
            ],
            key=tag,
        )
    )
    session = await run_to_end(rt, remote, f"{tag} try hard")
    retries = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, ModelRetry)]
    assert session.status == "finished"
    assert [r.attempt for r in retries] == [1, 2, 3]
    assert "529" in retries[0].error and "429" in retries[1].error and "overloaded" in retries[2].error


async def test_model_error_that_cannot_be_retried_fails_the_session(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    standin.register(Script([ApiError(400, "invalid_request_error", "prompt is too long")], key=tag))
    session = await run_to_end(rt, remote, f"{tag} too much")
    assert session.status == "failed"
    assert "400" in session.error and "prompt is too long" in session.error


async def test_hung_and_flooding_commands_end_with_a_tool_error(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    steps = [
        Reply(tool_use("shell", {"command": "sleep 30", "timeout_s": 1})),
        Reply(tool_use("shell", {"command": "yes nightshift"})),
        Reply(tool_use("finish", {"summary": "survived"})),
    ]
    standin.register(Script(steps, key=tag))
    session = await run_to_end(rt, remote, f"{tag} misbehave")
    hung, flood = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, ToolResult)][:2]
    assert session.status == "finished"
    assert hung.is_error and "killed after 1s" in hung.output
    assert flood.is_error and flood.truncated and len(flood.output) < 40_000


async def test_cancel_stops_the_run_and_keeps_the_work(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    tag = marker()
    steps = [
        Reply(tool_use("write_file", {"path": "partial.txt", "content": "half\n"})),
        Reply(tool_use("shell", {"command": "sleep 60"})),
    ]
    standin.register(Script(steps, key=tag))
    session = await start(rt, remote, f"{tag} long job")
    async with worker_running(rt):
        await wait_event(rt, session.id, "tool_started")
        while [e.event.kind for e in await rt.store.events(session.id)].count("tool_started") < 2:
            await asyncio.sleep(0.05)
        assert await rt.store.request_cancel(session.id) == "requested"
        final = await wait_status(rt, session.id, {"cancelled", "failed", "finished"}, timeout_s=30)
    assert final.status == "cancelled"
    assert show(remote, f"{session.branch}:partial.txt") == "half\n"
