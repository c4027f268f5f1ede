"""Repo memory in Redis: each repository's notes for agents, listed and edited by people (CLI, API) and added to
by agents (the propose_note tool), with every agent's addition logged in its session."""

import time
import uuid

from redis.asyncio import Redis

from control_plane import keys
from control_plane.errors import BadRequest, NotFound
from harness.errors import ToolInputError
from harness.memory import MAX_NOTE_CHARS, RepoNote

# KEYS: notes hash. ARGV: note id, note json, max notes. The count check and the write are one step.
_ADD = """
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class NoteStore:
    def __init__(self, redis: Redis, *, max_notes: int = 50) -> None:
        self.redis, self.max_notes = redis, max_notes
        self._add = redis.register_script(_ADD)

    async def list(self, repo: str) -> list[RepoNote]:
        """Oldest first: the order they are shown to the agent."""
        values = await self.redis.hvals(keys.notes(repo))
        return sorted((RepoNote.model_validate_json(v) for v in values), key=lambda n: n.created_at)

    async def add(
        self, repo: str, text: str, *, author: str, reason: str = "", session_id: str | None = None
    ) -> RepoNote:
        note = RepoNote(
            id=uuid.uuid4().hex[:8],
            repo=repo,
            text=_checked(text),
            author=author,
            session_id=session_id,
            reason=reason[:500],
            created_at=time.time(),
        )
        if not await self._add(keys=[keys.notes(repo)], args=[note.id, note.model_dump_json(), self.max_notes]):
            raise BadRequest(
                f"{repo} already has {self.max_notes} notes (NIGHTSHIFT_MAX_REPO_NOTES): remove one with "
                "`nightshift notes rm` before adding another"
            )
        return note

    async def update(self, repo: str, note_id: str, text: str) -> RepoNote:
        note = await self.get(repo, note_id)
        changed = note.model_copy(update={"text": _checked(text)})
        await self.redis.hset(keys.notes(repo), note_id, changed.model_dump_json())
        return changed

    async def get(self, repo: str, note_id: str) -> RepoNote:
        value = await self.redis.hget(keys.notes(repo), note_id)
        if value is None:
            raise NotFound(f"{repo} has no note {note_id!r}")
        return RepoNote.model_validate_json(value)

    async def remove(self, repo: str, note_id: str) -> None:
        if not await self.redis.hdel(keys.notes(repo), note_id):
            raise NotFound(f"{repo} has no note {note_id!r}")


def _checked(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_NOTE_CHARS:
        raise BadRequest(f"a note is 1 to {MAX_NOTE_CHARS} characters; this one has {len(text)}")
    return text


class SessionNotes:
    """The RepoMemory an agent gets: adds notes to its session's repository, in its session's name."""

    def __init__(self, store: NoteStore, repo: str, session_id: str) -> None:
        self.store, self.repo, self.session_id = store, repo, session_id

    async def add(self, text: str, *, reason: str) -> RepoNote:
        try:
            return await self.store.add(self.repo, text, author="agent", reason=reason, session_id=self.session_id)
        except BadRequest as e:
            raise ToolInputError(str(e)) from e  # the agent is told, and can tell the people
