"""Server-sent events on the wire. Each live event is encoded once, by the session's shared read loop, and the same
bytes go to every viewer: with hundreds of viewers, per-viewer work is a queue hand-off and a socket write."""

from fastapi.sse import format_sse_event

KEEP_ALIVE = b": keep-alive\n\n"
RETRY_MS = 1000
"""How soon a browser reconnects after the stream drops (EventSource's default is about 3 s)."""


def event(html: str, event_id: str) -> bytes:
    """A log event, as the page's script expects it: `ev` with the rendered HTML, and its id for Last-Event-ID."""
    return format_sse_event(data_str=html, event="ev", id=event_id)


def summary(payload: str, *, first: bool = False) -> bytes:
    """The session's status and counts; no id, so it never moves the browser's resume point."""
    return format_sse_event(data_str=payload, event="summary", retry=RETRY_MS if first else None)
