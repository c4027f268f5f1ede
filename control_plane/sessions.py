"""Creating and steering sessions: the checks every entry point (API, CLI, integrations) shares."""

import time
import uuid

from control_plane.errors import BadRequest
from control_plane.git import check_repo, normalize_repo
from control_plane.models import NewMessage, NewSession, Session, slug, title_of
from control_plane.store import SessionStore
from harness.events import SessionCreated, StatusChanged, UserMessage


def _check_size(text: str, what: str, max_bytes: int) -> None:
    size = len(text.encode())
    if size > max_bytes:
        raise BadRequest(f"{what} is {size:,} bytes; the limit is {max_bytes:,} (NIGHTSHIFT_MAX_PROMPT_BYTES)")


async def create_session(store: SessionStore, req: NewSession, *, max_prompt_bytes: int) -> Session:
    """Check everything first, then write the session, its first events and its job in one step."""
    _check_size(req.prompt, "the prompt", max_prompt_bytes)
    repo = normalize_repo(req.repo)
    await check_repo(repo, req.base)
    session_id = uuid.uuid4().hex[:12]
    now = time.time()
    session = Session(
        id=session_id,
        repo=repo,
        base=req.base,
        branch=f"nightshift/{slug(title_of(req.prompt))}-{session_id[:6]}",
        title=title_of(req.prompt),
        source=req.source,
        requested_by=req.requested_by,
        status="queued",
        created_at=now,
        updated_at=now,
    )
    created = SessionCreated(
        repo=repo, base=req.base, branch=session.branch, source=req.source, requested_by=req.requested_by
    )
    await store.create(
        session, [created, StatusChanged(status="queued")], UserMessage(text=req.prompt, author=req.requested_by)
    )
    return session


async def post_message(store: SessionStore, session_id: str, req: NewMessage, *, max_prompt_bytes: int) -> bool:
    """Returns True when the message reopened an ended session (a new run is queued)."""
    _check_size(req.text, "the message", max_prompt_bytes)
    _, reopened = await store.post_message(session_id, UserMessage(text=req.text, author=req.author))
    return reopened
