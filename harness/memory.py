"""Repo memory: short notes the team keeps about a repository ("we use pnpm, not npm"), given to every later
session on it. The control plane stores them (Redis) and shows them (CLI, API); the agent can add one with the
`propose_note` tool, and every note it adds is logged in its session, so nothing is remembered unseen."""

from typing import Protocol

from pydantic import BaseModel, Field

MAX_NOTE_CHARS = 500


class RepoNote(BaseModel):
    id: str
    repo: str
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)
    author: str
    """Who wrote it: a person, or `agent` for a note a session proposed."""
    session_id: str | None = None
    """The session that proposed it, when an agent did."""
    reason: str = ""
    """Why it was added (e.g. what the person said), shown next to it."""
    created_at: float


class RepoMemory(Protocol):
    """The notes of the session's repository, as the agent may change them: only by adding."""

    async def add(self, text: str, *, reason: str) -> RepoNote: ...
