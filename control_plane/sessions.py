"""Creating and steering sessions: the checks every entry point (API, CLI, integrations) shares."""

import time
import uuid

from control_plane.errors import BadRequest, OriginTaken
from control_plane.git import GitCredentials, check_repo, normalize_repo
from control_plane.models import NewMessage, NewSession, Session, title_of
from control_plane.push_policy import owned_branch
from control_plane.store import SessionStore
from harness.events import SessionCreated, StatusChanged, UserMessage


def _check_size(text: str, what: str, max_bytes: int) -> None:
    size = len(text.encode())
    if size > max_bytes:
        raise BadRequest(f"{what} is {size:,} bytes; the limit is {max_bytes:,} (NIGHTSHIFT_MAX_PROMPT_BYTES)")


async def create_session(
    store: SessionStore,
    req: NewSession,
    *,
    max_prompt_bytes: int,
    credentials: GitCredentials | None = None,
    parent_id: str | None = None,
    cause: str | None = None,
) -> Session:
    """Check everything first, then write the session, its first events and its job in one step.

    Raises OriginTaken when req.origin already has a session (checked again atomically with the write). `cause`:
    what the prompt came from (a comment id...), remembered with it: see post_message."""
    _check_size(req.prompt, "the prompt", max_prompt_bytes)
    repo = normalize_repo(req.repo)
    if req.origin is not None and (holder := await store.by_origin(req.origin)) is not None:
        raise OriginTaken(req.origin, holder)  # before the slow repository check
    await check_repo(repo, req.base, env=await credentials.env_for(repo) if credentials else None)
    session_id = uuid.uuid4().hex[:12]
    now = time.time()
    title = req.title or title_of(req.prompt)
    session = Session(
        id=session_id,
        repo=repo,
        base=req.base,
        branch=req.branch or owned_branch(title, session_id),
        title=title,
        source=req.source,
        requested_by=req.requested_by,
        status="queued",
        created_at=now,
        updated_at=now,
        origin=req.origin,
        origin_url=req.origin_url,
        upstream=req.upstream,
        read_only=req.read_only,
        co_authors=req.co_authors,
        model=req.model,
        parent_id=parent_id,
    )
    created = SessionCreated(
        repo=repo,
        base=req.base,
        branch=session.branch,
        source=req.source,
        requested_by=req.requested_by,
        parent_id=parent_id,
    )
    holder = await store.create(
        session,
        [created, StatusChanged(status="queued")],
        UserMessage(text=req.prompt, author=req.requested_by),
        cause=cause,
    )
    if holder != session.id:
        assert req.origin is not None
        raise OriginTaken(req.origin, holder)
    return session


async def post_message(
    store: SessionStore, session_id: str, req: NewMessage, *, max_prompt_bytes: int, cause: str | None = None
) -> bool:
    """Returns True when the message reopened an ended session (a new run is queued).

    `cause`: what the message came from (a GitHub comment, a Slack event...), for integrations whose deliveries are
    retried: the message of one cause is appended once, however often it is posted."""
    _check_size(req.text, "the message", max_prompt_bytes)
    _, reopened = await store.post_message(session_id, UserMessage(text=req.text, author=req.author), cause)
    return reopened
