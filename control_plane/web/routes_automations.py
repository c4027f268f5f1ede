"""Triage automations (Sentry projects, generic webhooks): their state, and pause / resume for anyone signed in."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from control_plane.automations import Automations, configured_automations
from control_plane.web.auth import Actor, Member
from control_plane.web.deps import RedisDep, SettingsDep
from control_plane.web.pages import page

router = APIRouter()


def _automations(redis: RedisDep, settings: SettingsDep) -> Automations:
    return Automations(redis, configured_automations(settings), max_failures=settings.automation_max_failures)


AutomationsDep = Annotated[Automations, Depends(_automations)]


@router.get("/automations", response_class=HTMLResponse)
async def automations_page(request: Request, caller: Member, automations: AutomationsDep) -> Response:
    listed = await automations.list()
    return page(request, "automations.html", caller, automations=listed, max_failures=automations.max_failures)


@router.post("/automations/{automation_id}/pause")
async def pause(
    automation_id: str, caller: Actor, automations: AutomationsDep, reason: Annotated[str, Form(max_length=500)] = ""
) -> Response:
    await automations.pause(automation_id, f"{reason.strip() or 'paused by hand'} ({caller.viewer.login})")
    return RedirectResponse("/automations", status_code=303)


@router.post("/automations/{automation_id}/resume")
async def resume(automation_id: str, caller: Actor, automations: AutomationsDep) -> Response:
    await automations.resume(automation_id)
    return RedirectResponse("/automations", status_code=303)
