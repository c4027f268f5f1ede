"""The HTTP API: JSON over FastAPI, bearer-token auth, live events over SSE."""

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel
from redis.asyncio import Redis

from control_plane.api_agent import router as agent_router
from control_plane.api_automations import router as automations_router
from control_plane.auth_failures import AuthFailures, client_of
from control_plane.automations import Automations
from control_plane.cancel import cancel_session
from control_plane.errors import BadRequest, Conflict, NotFound
from control_plane.event_cursor import after_id, resume_cursor
from control_plane.git import GitCredentials
from control_plane.models import NewMessage, NewSession, Session
from control_plane.pull_requests import PullRequestStore
from control_plane.sessions import create_session, post_message
from control_plane.stats import PrStats, summarize
from control_plane.store import SessionStore
from harness.errors import NightshiftError
from harness.events import TERMINAL_STATUSES, LoggedEvent

_bearer = HTTPBearer(auto_error=False, description="NIGHTSHIFT_API_TOKEN")


class ApiConfig(BaseModel):
    api_token: str
    max_prompt_bytes: int = 200_000
    public_url: str = "http://127.0.0.1:8000"
    stream_block_ms: int = 15_000
    """How long an SSE read waits for news before a keep-alive comment."""
    artifacts_dir: Path | None = None
    """Where sessions' artifacts (screenshots, full tool outputs) are kept: <data_dir>/artifacts."""
    max_repo_notes: int = 50
    auth_failure_limit: int = 20
    """Wrong bearer tokens (and web sign-ins) from one client within auth_failure_window_s before 429s."""
    auth_failure_window_s: int = 300


class Created(BaseModel):
    id: str
    status: str
    branch: str
    url: str


class MessageAccepted(BaseModel):
    reopened: bool
    """True when the session had ended and a new run was queued for this message."""


class CancelAccepted(BaseModel):
    result: str


class Health(BaseModel):
    ok: bool
    redis: bool


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.store
    return store


def _config(request: Request) -> ApiConfig:
    config: ApiConfig = request.app.state.config
    return config


Store = Annotated[SessionStore, Depends(_store)]
Config = Annotated[ApiConfig, Depends(_config)]


async def _authorized(
    request: Request, config: Config, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    failures: AuthFailures = request.app.state.auth_failures
    client = client_of(request)
    if (wait_s := await failures.retry_after(client)) is not None:
        raise HTTPException(
            429, f"too many wrong tokens from {client}; try again in {wait_s} s", headers={"Retry-After": str(wait_s)}
        )
    if creds is None:  # no credential at all is not a guess: not counted
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not secrets.compare_digest(creds.credentials.encode(), config.api_token.encode()):
        await failures.failed(client, "API bearer token")
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/api", dependencies=[Depends(_authorized)])


@router.post("/sessions", status_code=201)
async def new_session(req: NewSession, store: Store, config: Config, request: Request) -> Created:
    credentials: GitCredentials | None = request.app.state.credentials
    s = await create_session(store, req, max_prompt_bytes=config.max_prompt_bytes, credentials=credentials)
    return Created(id=s.id, status=s.status, branch=s.branch, url=f"{config.public_url}/api/sessions/{s.id}")


@router.get("/sessions")
async def list_sessions(
    store: Store, limit: Annotated[int, Query(ge=1, le=500)] = 50, before: Annotated[float | None, Query()] = None
) -> list[Session]:
    return await store.recent(limit=limit, before=before)


@router.get("/sessions/{session_id}")
async def get_session(session_id: str, store: Store) -> Session:
    return await store.get(session_id)


@router.get("/sessions/{session_id}/events")
async def get_events(
    session_id: str,
    store: Store,
    after: Annotated[str | None, Depends(after_id)],
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[LoggedEvent]:
    await store.get(session_id)
    return await store.events(session_id, after=after, count=limit)


async def _existing_session(session_id: str, store: Store) -> str:
    # A dependency, not the stream's first line: inside the stream a NotFound comes after the 200 has been sent.
    await store.get(session_id)
    return session_id


@router.get("/sessions/{session_id}/stream", response_class=EventSourceResponse)
async def stream(
    session_id: Annotated[str, Depends(_existing_session)],
    store: Store,
    config: Config,
    cursor: Annotated[str, Depends(resume_cursor)],
) -> AsyncIterator[ServerSentEvent]:
    """History first, then live events; reconnect with Last-Event-ID to resume without gaps or repeats."""
    while True:
        events = await store.wait_events(session_id, after=cursor, block_ms=config.stream_block_ms)
        for item in events:
            cursor = item.id
            yield ServerSentEvent(raw_data=item.event.model_dump_json(), event=item.event.kind, id=item.id)
        if not events:
            if (await store.get(session_id)).status in TERMINAL_STATUSES:
                return
            yield ServerSentEvent(comment="keep-alive")


@router.post("/sessions/{session_id}/messages", status_code=202)
async def new_message(session_id: str, req: NewMessage, store: Store, config: Config) -> MessageAccepted:
    reopened = await post_message(store, session_id, req, max_prompt_bytes=config.max_prompt_bytes)
    return MessageAccepted(reopened=reopened)


@router.post("/sessions/{session_id}/cancel", status_code=202)
async def cancel(session_id: str, store: Store) -> CancelAccepted:
    return CancelAccepted(result=await cancel_session(store, session_id))


@router.get("/stats")
async def stats(request: Request, since: Annotated[float | None, Query(description="Unix time")] = None) -> PrStats:
    """Pull requests Nightshift opened: merged, closed, time to merge, comments; by repo, source and person."""
    prs: PullRequestStore = request.app.state.prs
    return summarize(await prs.all(since=since), since=since)


async def _errors(request: Request, exc: Exception) -> JSONResponse:
    status = {NotFound: 404, Conflict: 409, BadRequest: 400}
    code = next((c for t, c in status.items() if isinstance(exc, t)), 500)
    return JSONResponse({"detail": str(exc)}, status_code=code)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    # Not FastAPI's own handler: it echoes each error's input, and fails (500) on input it cannot encode: bytes that
    # are not UTF-8 (fastapi/fastapi#13111), -Infinity or NaN (Python's JSON parser accepts them), lone surrogates.
    # The client has its input; type, place and message are what it needs, and ASCII-escaped they always encode.
    assert isinstance(exc, RequestValidationError)
    errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
    return Response(json.dumps({"detail": errors}), status_code=422, media_type="application/json")


def create_app(
    redis: Redis,
    store: SessionStore,
    config: ApiConfig,
    *,
    routers: Sequence[APIRouter] = (),
    credentials: GitCredentials | None = None,
    automations: Automations | None = None,
) -> FastAPI:
    """`routers` come from integrations (the GitHub webhook), picked by the composition root; `credentials` let
    the repository check reach private repositories."""
    app = FastAPI(
        title="Nightshift",
        description="Background coding agents: sessions, their event logs, follow-ups.",
        max_body_size=config.max_prompt_bytes + 64_000,
    )
    app.state.store, app.state.config = store, config
    app.state.prs, app.state.credentials = PullRequestStore(redis), credentials
    app.state.automations = automations or Automations(redis, {})
    app.state.auth_failures = AuthFailures(
        redis, limit=config.auth_failure_limit, window_s=config.auth_failure_window_s
    )
    app.add_exception_handler(NightshiftError, _errors)
    app.add_exception_handler(RequestValidationError, _invalid_request)

    @app.get("/healthz")
    async def healthz() -> Health:
        return Health(ok=True, redis=bool(await redis.ping()))

    app.include_router(router)
    app.include_router(agent_router, dependencies=[Depends(_authorized)])
    app.include_router(automations_router, dependencies=[Depends(_authorized)])
    for extra in routers:
        app.include_router(extra)
    return app
