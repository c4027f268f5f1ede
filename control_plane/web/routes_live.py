"""A session's live stream for its page: the log after the page's cursor, then new events as they are logged.

Same origin, the page's cookie, plain `text/event-stream`. A reconnecting browser sends Last-Event-ID (EventSource
does it by itself) and the stream resumes after it, so a dropped connection loses and repeats nothing.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from control_plane.event_cursor import resume_cursor
from control_plane.store import SessionStore
from control_plane.web import sse
from control_plane.web.auth import Config, StreamViewer
from control_plane.web.deps import Hub, Render, Store
from control_plane.web.live import LiveHub
from control_plane.web.pages import summary_json
from control_plane.web.templating import Renderer
from harness.transcript import id_after

router = APIRouter()


async def _watchable(session_id: str, store: Store, hub: Hub) -> str:
    async with hub.catching_up():  # like the catch-up read below: hundreds of viewers may arrive at once
        await store.get(session_id)  # NotFound: the 404 page, before the stream starts
    return session_id


@router.get("/sessions/{session_id}/live")
async def live(
    session_id: Annotated[str, Depends(_watchable)],
    viewer: StreamViewer,
    store: Store,
    hub: Hub,
    render: Render,
    cfg: Config,
    cursor: Annotated[str, Depends(resume_cursor)],
) -> StreamingResponse:
    stream = _stream(session_id, cursor, store, hub, render, cfg.stream_block_ms / 1000)
    return StreamingResponse(stream, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


async def _stream(
    session_id: str, cursor: str, store: SessionStore, hub: LiveHub, render: Renderer, quiet_s: float
) -> AsyncIterator[bytes]:
    async with hub.watch(session_id) as feed:  # first: whatever is logged from now on reaches this feed
        async with hub.catching_up():
            backlog, session = await store.events(session_id, after=cursor), await store.get(session_id)
        yield b"".join(sse.event(render.event(session_id, i), i.id) for i in backlog) + sse.summary(
            summary_json(session), first=True
        )
        cursor = backlog[-1].id if backlog else cursor
        while True:
            batch = await feed.get(quiet_s)
            if batch is None:
                return  # dropped (too slow, or the loop stopped): the browser reconnects from its last id
            fresh = [e for e in batch.events if id_after(e.id, cursor)]  # the seam: skip what the backlog had
            cursor = fresh[-1].id if fresh else cursor
            if not batch.events:
                yield sse.KEEP_ALIVE  # a quiet interval: proxies keep the connection, the browser knows it is live
                continue
            yield b"".join(e.wire for e in fresh) + batch.summary
