"""The push policy end to end: a real worker, the local sandbox, a bare repository as the remote. A session record
edited in Redis behind the control plane's back (as a sandboxed command that reached Redis would) cannot redirect
the push: it is refused, nothing reaches the remote, and the session fails saying why."""

import json
from pathlib import Path

from conftest import sh
from redis.asyncio import Redis
from spine import marker, start, wait_status, worker_running

from control_plane import keys
from control_plane.runtime import Runtime
from harness.events import BranchPushed, ErrorEvent
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use

EDIT = [
    Reply(tool_use("edit_file", {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"})),
    Reply(tool_use("finish", {"summary": "add() adds"})),
]


def refs(remote: Path) -> str:
    return sh("git", "--git-dir", str(remote), "for-each-ref")


async def run_with_branch(rt: Runtime, standin: AnthropicStandIn, remote: Path, redis: Redis, **edits: str) -> str:
    """Start a session, edit its record in Redis before a worker picks it up, run it to its end; its id."""
    tag = marker()
    standin.register(Script(EDIT, key=tag))
    session = await start(rt, remote, f"{tag} make add() add")
    if edits:
        await redis.hset(keys.session(session.id), mapping={k: json.dumps(v) for k, v in edits.items()})
    async with worker_running(rt):
        await wait_status(rt, session.id, {"finished", "failed", "cancelled"})
    return session.id


async def test_a_branch_edited_to_main_is_refused_and_the_session_fails(
    rt: Runtime, standin: AnthropicStandIn, remote: Path, redis: Redis
) -> None:
    before = refs(remote)
    session_id = await run_with_branch(rt, standin, remote, redis, branch="main")
    ended = await rt.store.get(session_id)
    assert ended.status == "failed"
    assert "refused to push to 'main'" in ended.summary
    events = [e.event for e in await rt.store.events(session_id)]
    assert any(isinstance(e, ErrorEvent) and "refused to push to 'main'" in e.message for e in events)
    assert not any(isinstance(e, BranchPushed) for e in events)
    assert refs(remote) == before  # main untouched, no branch created


async def test_another_sessions_branch_is_refused(
    rt: Runtime, standin: AnthropicStandIn, remote: Path, redis: Redis
) -> None:
    other = await start(rt, remote, "someone else's work")
    before = refs(remote)
    session_id = await run_with_branch(rt, standin, remote, redis, branch=other.branch)
    ended = await rt.store.get(session_id)
    assert ended.status == "failed"
    assert f"belongs to session {other.id}" in ended.summary
    assert refs(remote) == before


async def test_an_id_edited_to_another_sessions_cannot_claim_its_branch(
    rt: Runtime, standin: AnthropicStandIn, remote: Path, redis: Redis
) -> None:
    other = await start(rt, remote, "someone else's work")
    before = refs(remote)
    session_id = await run_with_branch(rt, standin, remote, redis, branch=other.branch, id=other.id)
    assert (await rt.store.get(session_id)).status == "failed"
    assert refs(remote) == before


async def test_a_branch_of_no_pull_request_is_refused_without_a_forge(
    rt: Runtime, standin: AnthropicStandIn, remote: Path, redis: Redis
) -> None:
    before = refs(remote)
    session_id = await run_with_branch(rt, standin, remote, redis, branch="feature", origin="github:acme/calc#1")
    ended = await rt.store.get(session_id)
    assert ended.status == "failed"
    assert f"may push only to its own nightshift/…-{session_id} branch" in ended.summary
    assert refs(remote) == before


async def test_the_sessions_own_branch_is_pushed(
    rt: Runtime, standin: AnthropicStandIn, remote: Path, redis: Redis
) -> None:
    session_id = await run_with_branch(rt, standin, remote, redis)
    ended = await rt.store.get(session_id)
    assert ended.status == "finished", ended.summary
    assert ended.branch.endswith(f"-{session_id}")
    assert "return a + b" in sh("git", "--git-dir", str(remote), "show", f"{ended.branch}:calc.py")
