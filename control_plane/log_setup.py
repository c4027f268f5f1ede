"""Process logging: plain text, or one JSON object per line (NIGHTSHIFT_LOG_FORMAT=json) for log pipelines.

Every record carries the id of the session it was logged for: the worker binds it for the duration of a run (a
contextvar, so every task the run starts inherits it), and a filter on the handler copies it onto the record —
also for records of libraries (the model SDK, httpx) that know nothing about sessions.
"""

import logging
import sys
from contextvars import ContextVar
from typing import Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

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
        out.setFormatter(JsonFormatter(fields, rename_fields={"asctime": "time", "levelname": "level"}))
    else:
        out.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(session_id)s] %(message)s"))
    return out


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    """Replace the root logger's handlers with ours (uvicorn's loggers propagate to it when given no config)."""
    root = logging.getLogger()
    root.handlers = [handler(log_format)]
    root.setLevel(level)
