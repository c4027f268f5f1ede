"""Helpers for the web UI tests: sign in through the real form, read form tokens, seed sessions directly."""

import re
import time
import uuid

import httpx

from control_plane.models import Session, Source
from control_plane.store import SessionStore
from harness.events import Event, SessionCreated, SessionStatus, StatusChanged, UserMessage

TOKEN = "web-test-token-" + "4c1d9e2b7a" * 2
"""The API token of the app under test; signing in with it is the embedded default."""


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no form token on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, name: str = "ana", token: str = TOKEN) -> str:
    """Sign in with the token form, as a browser does; returns the signed-in session's form token."""
    form = await client.get("/login")
    r = await client.post("/login", data={"csrf": csrf_of(form.text), "name": name, "token": token})
    assert r.status_code == 303, r.text
    page = await client.get("/sessions/new")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def seed(
    store: SessionStore,
    *,
    repo: str = "/srv/repos/calc.git",
    source: Source = "cli",
    by: str = "ana",
    status: SessionStatus = "queued",
    created_at: float | None = None,
    title: str = "fix add",
    cost_usd: float = 0.0,
    events: list[Event] | None = None,
) -> Session:
    """A session written straight to the store (no repository check), for list, filter and page tests."""
    now = created_at if created_at is not None else time.time()
    session_id = uuid.uuid4().hex[:12]
    session = Session(
        id=session_id,
        repo=repo,
        base=None,
        branch=f"nightshift/{session_id}",
        title=title,
        source=source,
        requested_by=by,
        status="queued",
        created_at=now,
        updated_at=now,
        cost_usd=cost_usd,
    )
    created = SessionCreated(repo=repo, base=None, branch=session.branch, source=source, requested_by=by, at=now)
    await store.create(session, [created, StatusChanged(status="queued", at=now)], UserMessage(text=title, author=by))
    if status != "queued":
        await store.set_status(session_id, status)
    for event in events or []:
        await store.append(session_id, event)
    return await store.get(session_id)
