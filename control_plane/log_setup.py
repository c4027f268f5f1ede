"""Process logging: plain text, or one JSON object per line (NIGHTSHIFT_LOG_FORMAT=json) for log pipelines.

Every record carries the id of the session it was logged for: the worker binds it for the duration of a run (a
contextvar, so every task the run starts inherits it), the API for a request about one session, and a filter on the
handler copies it onto the record — also for records of libraries (the model SDK, httpx) that know nothing of it.
"""

import logging
import re
import sys
from contextvars import ContextVar
from typing import Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Receive, Scope, Send

session_id_var: ContextVar[str | None] = ContextVar("nightshift_session_id", default=None)

LogFormat = Literal["text", "json"]


class SessionIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.session_id = session_id_var.get()
        return True


def handler(log_format: LogFormat, stream: TextIO = sys.stderr) -> logging.Handler:
    out = logging.StreamHandler(stream)
    out.addFilter(SessionIdFilter())
    if log_format == "json":
        fields = ["asctime", "levelname", "name", "message", "session_id"]
        # uvicorn adds a `color_message` with terminal escapes to its records: not for a log pipeline.
        reserved = [*RESERVED_ATTRS, "color_message"]
        renamed = {"asctime": "time", "levelname": "level"}
        out.setFormatter(JsonFormatter(fields, rename_fields=renamed, reserved_attrs=reserved))
    else:
        out.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(session_id)s] %(message)s"))
    return out


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    """Replace the root logger's handlers with ours (uvicorn's loggers propagate to it when given no config)."""
    root = logging.getLogger()
    root.handlers = [handler(log_format)]
    root.setLevel(level)


_SESSION_PATH = re.compile(r"^/(?:api/)?sessions/([0-9a-f]{12})(?:/|$)")


class SessionLogContext:
    """ASGI middleware: a request about one session (/api/sessions/<id>/..., /sessions/<id>/...) logs with its id,
    uvicorn's access line included (it is written from inside the app's send)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _SESSION_PATH.match(scope["path"]) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        token = session_id_var.set(found.group(1))
        try:
            await self.app(scope, receive, send)
        finally:
            session_id_var.reset(token)
