"""Where a reader of a session's log resumes: `after=` or a reconnecting browser's Last-Event-ID, both a Redis stream
id `<ms>-<seq>`. Checked here (FastAPI dependencies of the API's and the web UI's routes) so that a malformed one is a
400 saying what an id looks like, never a Redis error (a 500) halfway through a stream."""

import re
from typing import Annotated

from fastapi import Depends, Header, Query

from control_plane.errors import BadRequest

PATTERN = r"^[0-9]+-[0-9]+$"
_MAX = 2**64 - 1
"""Both parts are unsigned 64-bit integers."""


def checked(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = [int(part) for part in value.split("-")] if re.fullmatch(PATTERN, value) else [_MAX + 1]
    # nothing can come after the very last id: Redis refuses it as the start of a range
    if max(parts) > _MAX or parts == [_MAX, _MAX]:
        shown = value if len(value) <= 50 else value[:50] + "…"
        raise BadRequest(
            f"{name} {shown!r} is not an event id: expected <milliseconds>-<sequence> as the log gives them "
            "(1733400000000-0), two whole numbers below 2^64"
        )
    return value


def after_id(
    after: Annotated[
        str | None,
        Query(description="Only events after this id.", json_schema_extra={"pattern": PATTERN}),
    ] = None,
) -> str | None:
    return checked("after", after)


def resume_cursor(
    after: Annotated[str | None, Depends(after_id)],
    last_event_id: Annotated[str | None, Header(json_schema_extra={"pattern": PATTERN})] = None,
) -> str:
    """The id to read after: Last-Event-ID (a reconnecting EventSource), else after=, else the log's start."""
    return checked("Last-Event-ID", last_event_id) or after or "0-0"
