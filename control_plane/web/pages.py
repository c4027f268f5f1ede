"""Rendering a page: the template plus what every page needs (who is signed in, the form token, the nav)."""

import json

from fastapi import Request
from fastapi.responses import HTMLResponse

from control_plane.models import Session
from control_plane.web import present
from control_plane.web.auth import Caller
from control_plane.web.deps import renderer
from harness.events import TERMINAL_STATUSES


def page(
    request: Request, name: str, caller: Caller | None, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    html = renderer(request).page(name, {"caller": caller, "path": request.url.path, **context})
    return HTMLResponse(html, status_code=status_code)


def summary_json(s: Session) -> str:
    """What the session page's script updates as the session goes on (text only: it sets textContent)."""
    return json.dumps(
        {
            "status": s.status,
            "cost": present.money(s.cost_usd),
            "steps": str(s.steps),
            "tokens": present.tokens(s.input_tokens + s.output_tokens),
            "active": s.status not in TERMINAL_STATUSES,
            "pushed": bool(s.pushed_commit),
        }
    )
