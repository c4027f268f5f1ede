"""Context management: long tool outputs become artifacts shown truncated; a conversation near the context window is
compacted into a summary (a logged event, so a resumed session continues from the compacted transcript); and the
cache breakpoints keep the cached prefix across turns and across a compaction."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from spine import SECRET, marker, run_to_end, start, wait_status, worker_running

from control_plane.api import ApiConfig, create_app
from control_plane.runtime import Runtime
from harness.anthropic_model import _message_params
from harness.events import ArtifactSaved, Compacted, LoggedEvent, ModelTurnEvent, ToolResult, UserMessage
from harness.messages import Message, TextBlock, ToolResultBlock, ToolUseBlock, Usage
from harness.testing.anthropic_standin import (
    AnthropicStandIn,
    RecordedRequest,
    Reply,
    Script,
    ScriptedUsage,
    tool_use,
)
from harness.transcript import rebuild

FULL = ScriptedUsage(input_tokens=190_000)
"""A turn that read most of a 200k context window: the next request is preceded by a compaction."""


def texts(message: dict[str, object]) -> list[str]:
    content = message["content"]
    assert isinstance(content, list)
    return [str(b["text"]) for b in content if isinstance(b, dict) and b.get("type") == "text"]


async def test_long_output_is_kept_whole_as_an_artifact_and_shown_cut(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    command = f"echo {SECRET}; seq 1 150000"  # ~1 MB, and a secret that must not reach the artifact either
    standin.register(
        Script([Reply(tool_use("shell", {"command": command})), Reply(tool_use("finish", {"summary": "ok"}))], key=tag)
    )
    session = await run_to_end(rt, remote, f"{tag} print a lot")
    events = [e.event for e in await rt.store.events(session.id)]
    [result] = [e for e in events if isinstance(e, ToolResult) and e.name == "shell"]
    [saved] = [e for e in events if isinstance(e, ArtifactSaved)]
    assert result.truncated and len(result.output) < 32_000
    assert f"artifact {saved.name}" in result.output and "narrow the command" in result.output
    assert "[... " in result.output and result.output.rstrip().endswith("tail, sed -n)]")
    stored = (rt.settings.data_dir / "artifacts" / saved.path).read_text()
    assert stored.splitlines()[1:3] == ["[REDACTED]", "1"] and stored.splitlines()[-1] == "150000"
    assert SECRET not in stored and saved.size_bytes == len(stored.encode())
    assert saved.mime_type.startswith("text/plain") and saved.tool_use_id == result.tool_use_id
    # the model got the cut version, with the note
    assert "narrow the command" in standin.requests[1].tool_results()[0].text

    config = ApiConfig(api_token="t" * 20, artifacts_dir=rt.settings.data_dir / "artifacts")
    app = create_app(rt.redis, rt.store, config)
    headers = {"Authorization": "Bearer " + "t" * 20}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers) as c:
        listed = (await c.get(f"/api/sessions/{session.id}/artifacts")).json()
        served = await c.get(f"/api/sessions/{session.id}/artifacts/{saved.name}")
        missing = await c.get(f"/api/sessions/{session.id}/artifacts/..%2Fapi-token")
    assert [a["name"] for a in listed] == [saved.name]
    assert served.status_code == 200 and served.text == stored and served.headers["content-type"].startswith("text/")
    assert missing.status_code == 404


def compacting_script(tag: str, seen: dict[str, RecordedRequest], last: Reply) -> Script:
    def summarize(req: RecordedRequest) -> Reply:
        seen["compaction"] = req
        return Reply("SUMMARY: a.txt and b.txt are written; c.txt remains.")

    def after(req: RecordedRequest) -> Reply:
        seen.setdefault("after", req)
        return last

    return Script(
        [
            Reply(tool_use("write_file", {"path": "a.txt", "content": "a\n"}), usage=FULL),
            Reply(tool_use("write_file", {"path": "b.txt", "content": "b\n"}), usage=FULL),
            summarize,
            after,
            Reply(tool_use("finish", {"summary": "finished after compaction"})),
        ],
        key=tag,
    )


async def test_compaction_replaces_old_turns_with_a_summary_and_keeps_the_cache(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, seen = marker(), {}
    standin.register(
        compacting_script(tag, seen, Reply(tool_use("write_file", {"path": "c.txt", "content": "c\n"}), usage=FULL))
    )
    session = await run_to_end(rt, remote, f"{tag} write a, b and c")
    assert session.status == "finished", session.error
    events = [e.event for e in await rt.store.events(session.id)]
    [compacted] = [e for e in events if isinstance(e, Compacted)]
    turns = [e for e in events if isinstance(e, ModelTurnEvent)]

    # the summary request: the conversation so far (with the last results), then the instruction, no tools allowed
    req = seen["compaction"]
    assert req.body["tool_choice"] == {"type": "none"}
    assert req.tool_results()[0].text == "wrote 2 bytes to b.txt"
    assert "will now be replaced by your summary" in req.user_text()
    # after it: one user message, the task word for word, then the summary; then the turns go on from there
    after = seen["after"]
    assert len(after.messages) == 1
    first = texts(after.messages[0])
    assert first[0] == f"[ana]: {tag} write a, b and c" and "SUMMARY: a.txt and b.txt" in first[1]
    assert [b.text for b in compacted.content] == first and compacted.replaced_steps == 2
    assert len(standin.requests[-1].messages) == 3  # the compacted message, the c.txt turn, its result

    # caching: the summary request read the whole conversation up to the previous request's end, more than turn 2
    # did; after the compaction the tools and system prompt are still read from cache
    assert compacted.usage.cache_read_input_tokens > turns[1].usage.cache_read_input_tokens > 0
    assert turns[2].usage.cache_read_input_tokens > 0
    assert session.steps == len(turns) + 1  # the summary call counts like any other
    assert standin.problems == []


def test_cache_breakpoints_stay_within_four_and_follow_the_last_two_user_messages() -> None:
    use = ToolUseBlock(id="t1", name="shell", input={})
    messages = [
        Message(role="user", content=[TextBlock(text="task")]),
        Message(role="assistant", content=[use]),
        Message(role="user", content=[ToolResultBlock(tool_use_id="t1", content="x"), TextBlock(text="more")]),
        Message(role="assistant", content=[TextBlock(text="ok")]),
        Message(role="user", content=[TextBlock(text="go on")]),
    ]
    params = _message_params(messages)
    marked = [
        (i, j)
        for i, m in enumerate(params)
        for j, b in enumerate(m["content"])
        if isinstance(b, dict) and "cache_control" in b
    ]
    assert marked == [(2, 1), (4, 0)]  # + the system prompt and the last tool: four in all
    assert messages[2].content[1] == TextBlock(text="more")  # the typed transcript itself is untouched


def test_rebuild_restarts_from_the_compacted_event() -> None:
    use = ToolUseBlock(id="t1", name="shell", input={})
    turn = ModelTurnEvent(
        step=1, content=[use], stop_reason="tool_use", usage=Usage(input_tokens=5), model="m", cost_usd=0.1
    )
    compacted = Compacted(
        content=[TextBlock(text="[ana]: task"), TextBlock(text="summary")],
        replaced_steps=1,
        usage=Usage(input_tokens=7),
        model="m",
        cost_usd=0.2,
    )
    log = [
        LoggedEvent(id="1-0", event=UserMessage(text="task", author="ana")),
        LoggedEvent(id="2-0", event=turn.model_copy(update={"delivered_through": "1-0"})),
        LoggedEvent(id="3-0", event=ToolResult(tool_use_id="t1", name="shell", output="x")),
        LoggedEvent(id="4-0", event=compacted),
        LoggedEvent(id="5-0", event=UserMessage(text="and docs", author="bo")),
    ]
    t = rebuild(log)
    assert (t.messages, t.open_tool_uses, t.preamble) == ([], [], compacted.content)
    assert (t.spent.steps, t.spent.tokens, t.delivered_through) == (2, 12, "1-0")
    later = turn.model_copy(update={"step": 2, "content": [TextBlock(text="done")], "delivered_through": "5-0"})
    t = rebuild([*log, LoggedEvent(id="6-0", event=later)])
    assert t.messages[0].content == [*compacted.content, TextBlock(text="[bo]: and docs")]
    assert t.preamble == [] and len(t.messages) == 2


def spawn_worker(rt: Runtime, standin: AnthropicStandIn) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "REDIS_URL": str(rt.settings.redis_url),
        "NIGHTSHIFT_DATA_DIR": str(rt.settings.data_dir),
        "ANTHROPIC_API_KEY": SECRET,
        "ANTHROPIC_BASE_URL": standin.base_url,
        "NIGHTSHIFT_LEASE_TTL_S": "2",
    }
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (rt.settings.data_dir / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "nightshift"), "worker"], env=env, stdout=log, stderr=log
        )


async def test_compaction_survives_a_crash(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    """Killed after compacting: the next worker resumes from the compacted transcript, not the full history."""
    tag, seen = marker(), {}
    slow = Reply(tool_use("finish", {"summary": "never logged"}), delay_s=30)  # the worker dies during this one
    standin.register(compacting_script(tag, seen, slow))
    session = await start(rt, remote, f"{tag} write a, b and c")
    dead = spawn_worker(rt, standin)
    try:
        async with asyncio.timeout(60):
            while "after" not in seen:
                await asyncio.sleep(0.05)
        dead.send_signal(signal.SIGKILL)
        dead.wait(10)
        async with worker_running(rt):
            final = await wait_status(rt, session.id, {"finished", "failed"}, timeout_s=60)
    finally:
        dead.kill()
    assert (final.status, final.summary) == ("finished", "finished after compaction")
    before, resumed = seen["after"], standin.requests[-1]
    assert resumed.messages == before.messages and len(resumed.messages) == 1  # the same compacted request
    events = [e.event for e in await rt.store.events(session.id)]
    assert sum(isinstance(e, Compacted) for e in events) == 1
