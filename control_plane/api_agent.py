"""API routes for what agents keep beyond the event log: repo notes (repo memory), sub-sessions, artifacts.
Mounted by api.create_app behind the same bearer-token check as the rest of /api."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from control_plane.children import ChildIndex
from control_plane.git import normalize_repo
from control_plane.models import Session
from control_plane.notes import NoteStore
from control_plane.store import SessionStore
from harness.artifacts import valid_name
from harness.events import ArtifactSaved
from harness.memory import MAX_NOTE_CHARS, RepoNote

router = APIRouter(prefix="/api")
Repo = Annotated[str, Query(min_length=1, max_length=2000, description="Git URL or path, as sessions name it.")]


class NewNote(BaseModel):
    repo: str = Field(min_length=1, max_length=2000)
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)
    author: str = Field("api", min_length=1, max_length=200)
    reason: str = Field("", max_length=500)


class NoteEdit(BaseModel):
    repo: str = Field(min_length=1, max_length=2000)
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.store
    return store


def _notes(request: Request) -> NoteStore:
    return NoteStore(_store(request).redis, max_notes=request.app.state.config.max_repo_notes)


Store = Annotated[SessionStore, Depends(_store)]
Notes = Annotated[NoteStore, Depends(_notes)]


@router.get("/repos/notes")
async def list_notes(repo: Repo, notes: Notes) -> list[RepoNote]:
    """The notes every session on `repo` is given, oldest first."""
    return await notes.list(normalize_repo(repo))


@router.post("/repos/notes", status_code=201)
async def add_note(req: NewNote, notes: Notes) -> RepoNote:
    return await notes.add(normalize_repo(req.repo), req.text, author=req.author, reason=req.reason)


@router.put("/repos/notes/{note_id}")
async def edit_note(note_id: str, req: NoteEdit, notes: Notes) -> RepoNote:
    return await notes.update(normalize_repo(req.repo), note_id, req.text)


@router.delete("/repos/notes/{note_id}", status_code=204)
async def remove_note(note_id: str, repo: Repo, notes: Notes) -> Response:
    await notes.remove(normalize_repo(repo), note_id)
    return Response(status_code=204)


@router.get("/sessions/{session_id}/children")
async def children(session_id: str, store: Store) -> list[Session]:
    """The sub-sessions the session started, oldest first."""
    await store.get(session_id)
    return await ChildIndex(store).sessions(session_id)


@router.get("/sessions/{session_id}/artifacts")
async def artifacts(session_id: str, store: Store) -> list[ArtifactSaved]:
    """Screenshots and full tool outputs the session saved, in the order they were made."""
    await store.get(session_id)
    return [e.event for e in await store.events(session_id) if isinstance(e.event, ArtifactSaved)]


@router.get("/sessions/{session_id}/artifacts/{name}")
async def artifact(session_id: str, name: str, store: Store, request: Request) -> FileResponse:
    # Only names the session's log lists are served: the name never becomes a path on its own say-so.
    listed = [a for a in await artifacts(session_id, store) if a.name == name]
    root: Path | None = request.app.state.config.artifacts_dir
    if not listed or root is None or not valid_name(name):
        raise HTTPException(404, f"session {session_id} has no artifact {name!r}")
    path = (root / listed[-1].path).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise HTTPException(404, f"artifact {name!r} is listed but its file is gone (another machine's data dir?)")
    return FileResponse(path, media_type=listed[-1].mime_type)
