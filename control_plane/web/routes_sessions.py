"""Sessions: the list, a session's page, and the actions on sessions (start, follow up, stop)."""

from typing import Annotated, get_args

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from control_plane.cancel import cancel_session
from control_plane.errors import BadRequest
from control_plane.models import NewMessage, NewSession, Source
from control_plane.sessions import create_session, post_message
from control_plane.web.auth import Actor, Caller, Config, Member
from control_plane.web.deps import Credentials, RedisDep, Store
from control_plane.web.listing import SessionFilter, facet_counts, find_sessions, resolve_repo
from control_plane.web.pages import page
from control_plane.web.timeline import timeline
from harness.events import LoggedEvent, Note, SessionStatus, UserMessage

router = APIRouter()
STATUSES: tuple[SessionStatus, ...] = ("queued", "running", "waiting_for_input", "finished", "failed", "cancelled")


@router.get("/")
async def home(caller: Member) -> Response:
    return RedirectResponse("/sessions", status_code=303)


@router.get("/sessions", response_class=HTMLResponse)
async def sessions(
    request: Request,
    caller: Member,
    redis: RedisDep,
    cfg: Config,
    repo: str = "",
    source: str = "",
    status: str = "",
    person: str = "",
    before: Annotated[float | None, Query()] = None,
) -> Response:
    chosen = {"repo": repo, "source": source, "status": status, "person": person}
    wanted = {**chosen, "repo": await resolve_repo(redis, repo) if repo else ""}
    try:
        query = SessionFilter.model_validate({k: v for k, v in wanted.items() if v})
    except ValidationError as e:
        raise BadRequest(f"unknown filter value: {e.errors()[0]['msg']}") from None
    found = await find_sessions(redis, query, before=before, limit=cfg.page_size, scan_limit=cfg.scan_limit)
    return page(
        request,
        "sessions.html",
        caller,
        page=found,
        chosen=chosen,
        first_page=before is None,
        repos=await facet_counts(redis, "repo"),
        people=await facet_counts(redis, "requested_by"),
        sources=get_args(Source),
        statuses=STATUSES,
    )


@router.get("/sessions/new", response_class=HTMLResponse)
async def new_session_form(request: Request, caller: Member, redis: RedisDep, repo: str = "") -> Response:
    return _new_form(request, caller, await facet_counts(redis, "repo"), {"repo": repo, "base": "", "prompt": ""})


def _new_form(
    request: Request, caller: Caller, repos: list[tuple[str, int]], values: dict[str, str], error: str = ""
) -> Response:
    status = 400 if error else 200
    return page(request, "new.html", caller, status_code=status, repos=repos, values=values, error=error)


@router.post("/sessions")
async def start_session(
    request: Request,
    caller: Actor,
    store: Store,
    redis: RedisDep,
    cfg: Config,
    credentials: Credentials,
    repo: Annotated[str, Form()],
    prompt: Annotated[str, Form()],
    base: Annotated[str, Form()] = "",
) -> Response:
    values = {"repo": repo, "base": base, "prompt": prompt}
    try:
        req = NewSession(
            repo=repo.strip(),
            base=base.strip() or None,
            prompt=prompt,
            requested_by=caller.viewer.login,
            source="web",
        )
        session = await create_session(store, req, max_prompt_bytes=cfg.max_prompt_bytes, credentials=credentials)
    except ValidationError as e:
        message = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        return _new_form(request, caller, await facet_counts(redis, "repo"), values, message)
    except BadRequest as e:
        return _new_form(request, caller, await facet_counts(redis, "repo"), values, str(e))
    return RedirectResponse(f"/sessions/{session.id}", status_code=303)


async def _existing(session_id: str, store: Store) -> str:
    await store.get(session_id)  # NotFound becomes the 404 page before any response starts
    return session_id


SessionId = Annotated[str, Depends(_existing)]


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
async def session_page(request: Request, session_id: SessionId, caller: Member, store: Store) -> Response:
    log = await store.events(session_id)
    session = await store.get(session_id)
    return page(
        request,
        "session.html",
        caller,
        session=session,
        session_id=session.id,
        entries=timeline(log),
        cursor=log[-1].id if log else "0-0",
        people=_participants(session.requested_by, log),
    )


def _participants(requested_by: str, log: list[LoggedEvent]) -> list[str]:
    people = [requested_by] + [i.event.author for i in log if isinstance(i.event, UserMessage)]
    return list(dict.fromkeys(people))


def _wants_json(request: Request) -> bool:
    """The page's script posts with Accept: application/json and stays on the page; a plain form navigates."""
    return "application/json" in request.headers.get("accept", "")


@router.post("/sessions/{session_id}/messages")
async def follow_up(
    request: Request, session_id: SessionId, caller: Actor, store: Store, cfg: Config, text: Annotated[str, Form()]
) -> Response:
    if not text.strip():
        raise BadRequest("the message is empty")
    message = NewMessage(text=text, author=caller.viewer.login)
    reopened = await post_message(store, session_id, message, max_prompt_bytes=cfg.max_prompt_bytes)
    if _wants_json(request):
        return JSONResponse({"reopened": reopened}, status_code=202)
    return RedirectResponse(f"/sessions/{session_id}#follow-up", status_code=303)


@router.post("/sessions/{session_id}/stop")
async def stop(request: Request, session_id: SessionId, caller: Actor, store: Store) -> Response:
    result = await cancel_session(store, session_id)
    if result in ("cancelled", "requested"):
        await store.append(session_id, Note(text=f"{caller.viewer.login} stopped the session"))
    if _wants_json(request):
        return JSONResponse({"result": result}, status_code=202)
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)
