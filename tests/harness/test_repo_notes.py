"""Repo memory with a real Redis: an agent corrected by a person proposes a note, the note is logged in its session,
stored per repository, editable through the API, and given to the next session on that repository (only)."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import sh
from redis.asyncio import Redis
from spine import marker, run_to_end

from control_plane.api import ApiConfig, create_app
from control_plane.errors import BadRequest, NotFound
from control_plane.notes import NoteStore, SessionNotes
from control_plane.runtime import Runtime
from control_plane.store import SessionStore
from harness.errors import ToolInputError
from harness.events import RepoNoteAdded, ToolResult
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use

TOKEN = "notes-token-0123456789"


async def test_store_adds_lists_edits_removes_and_caps(redis: Redis) -> None:
    notes = NoteStore(redis, max_notes=2)
    first = await notes.add("/r", "Use pnpm, not npm.", author="ana")
    second = await notes.add("/r", "  Tests: make test  ", author="agent", session_id="s1", reason="seen in CI")
    assert [n.text for n in await notes.list("/r")] == ["Use pnpm, not npm.", "Tests: make test"]
    assert await notes.list("/other") == []
    with pytest.raises(BadRequest, match="already has 2 notes"):
        await notes.add("/r", "one more", author="ana")
    with pytest.raises(ToolInputError, match="already has 2 notes"):  # what the agent's tool gets: told, not fatal
        await SessionNotes(notes, "/r", "s2").add("one more", reason="")
    edited = await notes.update("/r", first.id, "Use pnpm 9, not npm.")
    assert (edited.id, edited.text, edited.author) == (first.id, "Use pnpm 9, not npm.", "ana")
    await notes.remove("/r", second.id)
    assert [n.id for n in await notes.list("/r")] == [first.id]
    with pytest.raises(NotFound):
        await notes.remove("/r", second.id)
    with pytest.raises(BadRequest, match="1 to 500 characters"):
        await notes.add("/r", "x" * 501, author="ana")


async def test_a_proposed_note_is_logged_stored_and_given_to_the_next_session(
    rt: Runtime, standin: AnthropicStandIn, remote: Path, tmp_path: Path
) -> None:
    first, second, elsewhere, prompts = marker(), marker(), marker(), {}

    def remember(req: RecordedRequest) -> Reply:
        prompts["first"] = str(req.body["system"])
        note = {"text": "Use pnpm, not npm.", "reason": "[ana] said so in the task"}
        return Reply(tool_use("propose_note", note))

    def later(key: str) -> Script:
        def look(req: RecordedRequest) -> Reply:
            prompts[key] = str(req.body["system"])
            return Reply(tool_use("finish", {"summary": "ok"}))

        return Script([look], key=key)

    standin.register(Script([remember, Reply(tool_use("finish", {"summary": "noted"}))], key=first))
    standin.register(later(second))
    standin.register(later(elsewhere))
    one = await run_to_end(rt, remote, f"{first} install deps; we use pnpm, not npm")
    events = [e.event for e in await rt.store.events(one.id)]
    [added] = [e for e in events if isinstance(e, RepoNoteAdded)]
    [result] = [e for e in events if isinstance(e, ToolResult) and e.name == "propose_note"]
    assert (added.text, added.repo) == ("Use pnpm, not npm.", one.repo) and added.note_id in result.output
    [stored] = await NoteStore(rt.redis).list(one.repo)
    assert (stored.id, stored.author, stored.session_id) == (added.note_id, "agent", one.id)
    assert "propose_note" in prompts["first"] and "Use pnpm" not in prompts["first"]

    await run_to_end(rt, remote, f"{second} add a dependency")
    assert "Notes the team keeps about this repository" in prompts[second]
    assert "- Use pnpm, not npm." in prompts[second]

    other = tmp_path / "other.git"
    sh("git", "clone", "-q", "--bare", str(remote), str(other))
    await run_to_end(rt, other, f"{elsewhere} add a dependency")
    assert "Use pnpm" not in prompts[elsewhere]  # notes belong to their repository


@pytest.fixture
async def client(redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(redis, SessionStore(redis), ApiConfig(api_token=TOKEN, max_repo_notes=3))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers) as c:
        yield c


async def test_notes_api(client: httpx.AsyncClient, remote: Path) -> None:
    repo = str(remote)
    r = await client.post("/api/repos/notes", json={"repo": repo, "text": "Use tabs.", "author": "bo"})
    assert r.status_code == 201, r.text
    note = r.json()
    assert (note["text"], note["author"], note["repo"]) == ("Use tabs.", "bo", repo)
    listed = (await client.get("/api/repos/notes", params={"repo": repo})).json()
    assert [n["id"] for n in listed] == [note["id"]]
    r = await client.put(f"/api/repos/notes/{note['id']}", json={"repo": repo, "text": "Use 4 spaces."})
    assert r.status_code == 200 and r.json()["text"] == "Use 4 spaces."
    assert (await client.delete(f"/api/repos/notes/{note['id']}", params={"repo": repo})).status_code == 204
    assert (await client.delete(f"/api/repos/notes/{note['id']}", params={"repo": repo})).status_code == 404
    assert (await client.get("/api/repos/notes", params={"repo": repo})).json() == []
    assert (await client.post("/api/repos/notes", json={"repo": repo, "text": ""})).status_code == 422
    for i in range(3):
        await client.post("/api/repos/notes", json={"repo": repo, "text": f"n{i}"})
    full = await client.post("/api/repos/notes", json={"repo": repo, "text": "one too many"})
    assert full.status_code == 400 and "already has 3 notes" in full.json()["detail"]
    no_token = await client.get("/api/repos/notes", params={"repo": repo}, headers={"Authorization": ""})
    assert no_token.status_code == 401
