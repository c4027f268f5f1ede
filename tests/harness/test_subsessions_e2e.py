"""Sub-sessions end to end: real Redis, git, sandboxes and the anthropic SDK against the scripted stand-in.

A parent spawns two children, waits for them on a ONE-slot worker (waiting must free the slot, or nothing
would ever run the children), is woken when both have ended, collects both branches into its own repository,
merges them and finishes. The limits (count, depth) are enforced, and the children show up under the parent."""

import re
from pathlib import Path

import httpx
from conftest import sh
from spine import marker, start, wait_status, worker_running

from control_plane.api import ApiConfig, create_app
from control_plane.runtime import Runtime
from harness.events import StatusChanged, SubSessionStarted, ToolResult, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use


def child_script(key: str, name: str) -> Script:
    steps = [
        Reply(tool_use("write_file", {"path": name, "content": f"{name} from a child\n"})),
        Reply(tool_use("finish", {"summary": f"wrote {name}"})),
    ]
    return Script(steps, key=key)


def woken_ids(req: RecordedRequest) -> list[str]:
    """The children the wake-up message lists, as the agent would read them."""
    assert "Every sub-session you waited for has ended" in req.user_text(), req.user_text()
    return re.findall(r"^- ([0-9a-f]{12}) \[finished\]", req.user_text(), flags=re.M)


async def test_parent_spawns_two_children_waits_collects_and_merges(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    parent_tag, tag_a, tag_b = marker(), marker(), marker()
    collected: list[str] = []

    def collect_both(req: RecordedRequest) -> Reply:
        ids = woken_ids(req)
        collected.extend(ids)
        return Reply(*[tool_use("collect_session", {"session_id": i}) for i in ids])

    def merge_both(req: RecordedRequest) -> Reply:
        assert all("refs/nightshift/children/" in r.text for r in req.tool_results()), req.tool_results()
        merge = " && ".join(f"git merge -q --no-edit refs/nightshift/children/{i}" for i in collected)
        return Reply(tool_use("shell", {"command": merge}))  # PLAN.md is committed: waiting pushed a checkpoint

    parent = [
        Reply(
            tool_use("write_file", {"path": "PLAN.md", "content": "split in two\n"}),
            tool_use("spawn_session", {"task": f"{tag_a} write a.txt"}),
            tool_use("spawn_session", {"task": f"{tag_b} write b.txt"}),
        ),
        Reply(tool_use("spawn_session", {"task": "one too many"})),
        Reply(tool_use("wait_for_sessions", {})),
        collect_both,
        merge_both,
        Reply(tool_use("finish", {"summary": "merged both parts"})),
    ]
    standin.register(Script(parent, key=parent_tag))
    standin.register(child_script(tag_a, "a.txt"))
    standin.register(child_script(tag_b, "b.txt"))
    rt.settings.max_sub_sessions = 2
    # The marker on the second line: the children's prompt quotes the parent's title (its first line).
    session = await start(rt, remote, f"Do two things\n{parent_tag}")
    async with worker_running(rt, concurrency=1):
        final = await wait_status(rt, session.id, {"finished", "failed", "cancelled"}, timeout_s=90)
    assert final.status == "finished", final.error

    # the parent's branch has its own work and both children's
    for name in ("PLAN.md", "a.txt", "b.txt"):
        assert sh("git", "--git-dir", str(remote), "cat-file", "-e", f"{final.branch}:{name}") == ""
    events = [e.event for e in await rt.store.events(session.id)]
    started = [e for e in events if isinstance(e, SubSessionStarted)]
    assert len(started) == 2 and sorted(collected) == sorted(e.child_id for e in started)
    refused = next(e for e in events if isinstance(e, ToolResult) and e.name == "spawn_session" and e.is_error)
    assert "limit" in refused.output and "NIGHTSHIFT_MAX_SUB_SESSIONS=2" in refused.output
    # waiting ended the run (freeing the worker); the children's end woke it with one message
    statuses = [e.status for e in events if isinstance(e, StatusChanged)]
    assert "waiting_for_input" in statuses
    wakes = [e for e in events if isinstance(e, UserMessage) and e.author == "nightshift"]
    assert len(wakes) == 1
    merged = next(e for e in events if isinstance(e, ToolResult) and e.name == "shell")
    assert not merged.is_error, merged.output

    for child_id in collected:
        child = await rt.store.get(child_id)
        assert (child.parent_id, child.status) == (session.id, "finished")
        made = child.summary.removeprefix("wrote ")  # each child's own branch has its own file
        assert sh("git", "--git-dir", str(remote), "show", f"{child.branch}:{made}") == f"{made} from a child\n"
    # children get no sub-session tools (depth limit 1) and their own task, not the parent's conversation
    child_requests = [r for r in standin.requests if r.script_key in (tag_a, tag_b)]
    assert child_requests and all("spawn_session" not in {t["name"] for t in r.tools} for r in child_requests)
    assert "spawn_session" in {t["name"] for t in standin.requests[0].tools}

    app = create_app(rt.redis, rt.store, ApiConfig(api_token="t" * 20))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers={"Authorization": "Bearer " + "t" * 20}
    ) as client:
        listed = (await client.get(f"/api/sessions/{session.id}/children")).json()
    assert [c["id"] for c in listed] == [e.child_id for e in started]
    assert all(c["parent_id"] == session.id for c in listed)


async def test_follow_ups_refusals_and_status_on_a_one_slot_worker(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    parent_tag, child_tag, child_saw = marker(), marker(), []
    spawned: list[str] = []

    def child_first(req: RecordedRequest) -> Reply:
        child_saw.append(req.user_text())
        return Reply(tool_use("finish", {"summary": "footer added"}))

    def check_then_message(req: RecordedRequest) -> Reply:
        spawned.extend(re.findall(r"started sub-session ([0-9a-f]{12})", req.tool_results()[0].text))
        [child] = spawned
        return Reply(
            tool_use("check_sessions", {}),
            tool_use("collect_session", {"session_id": child}),
            tool_use("collect_session", {"session_id": "0123456789ab"}),
            tool_use("message_session", {"session_id": child, "text": "also add a footer"}),
        )

    parent = [
        Reply(tool_use("spawn_session", {"task": f"{child_tag} add a header"})),
        check_then_message,
        Reply(tool_use("wait_for_sessions", {})),
        Reply(tool_use("wait_for_sessions", {})),  # after the wake-up: nothing left to wait for, returns at once
        Reply(tool_use("finish", {"summary": "child done"})),
    ]
    standin.register(Script(parent, key=parent_tag))
    standin.register(Script([child_first], key=child_tag))
    session = await start(rt, remote, f"Parent\n{parent_tag}")
    async with worker_running(rt, concurrency=1):
        final = await wait_status(rt, session.id, {"finished", "failed", "cancelled"}, timeout_s=60)
    assert final.status == "finished", final.error
    results = {
        e.tool_use_id: e for e in (x.event for x in await rt.store.events(session.id)) if isinstance(e, ToolResult)
    }
    by_name = [(r.name, r.is_error, r.output) for r in results.values()]
    check = next(out for name, _, out in by_name if name == "check_sessions")
    assert f"{spawned[0]} [queued]" in check and "call wait_for_sessions instead" in check
    collects = [(err, out) for name, err, out in by_name if name == "collect_session"]
    assert collects[0][0] and "is queued: call wait_for_sessions" in collects[0][1]
    assert collects[1][0] and "there is no session '0123456789ab'" in collects[1][1]
    waits = [out for name, _, out in by_name if name == "wait_for_sessions"]
    assert waits[0].startswith("paused: waiting") and waits[1].startswith("nothing to wait for")
    # the follow-up reached the child (it only ran once the parent paused: one slot)
    [seen] = child_saw
    assert "You are a sub-session of session" in seen and "add a header" in seen
    assert f"[parent {session.id}]: also add a footer" in seen


async def test_cancelling_a_waiting_parent_cancels_its_children(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    parent_tag, child_tag = marker(), marker()
    standin.register(
        Script(
            [Reply(tool_use("spawn_session", {"task": f"{child_tag} slow"})), Reply(tool_use("wait_for_sessions", {}))],
            key=parent_tag,
        )
    )
    standin.register(Script([Reply(tool_use("shell", {"command": "sleep 30"}))], key=child_tag))
    session = await start(rt, remote, f"Parent\n{parent_tag}")
    async with worker_running(rt, concurrency=2):
        await wait_status(rt, session.id, {"waiting_for_input"})
        [child_id] = [
            e.event.child_id for e in await rt.store.events(session.id) if isinstance(e.event, SubSessionStarted)
        ]
        await wait_status(rt, child_id, {"running"})
        assert await rt.store.request_cancel(session.id) == "cancelled"  # no run going on: cancelled at once
        child = await wait_status(rt, child_id, {"cancelled", "failed", "finished"}, timeout_s=30)
    assert child.status == "cancelled"
    assert (await rt.store.get(session.id)).status == "cancelled"


async def test_no_sub_session_tools_when_turned_off(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    tag = marker()
    standin.register(Script([Reply(tool_use("finish", {"summary": "alone"}))], key=tag))
    rt.settings.max_sub_sessions = 0
    async with worker_running(rt):
        session = await start(rt, remote, f"{tag} small task")
        await wait_status(rt, session.id, {"finished"})
    names = {t["name"] for t in standin.requests[0].tools}
    assert not names & {"spawn_session", "wait_for_sessions", "collect_session"}
    assert "spawn_session" not in str(standin.requests[0].body["system"])
