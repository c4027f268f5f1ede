"""API routes for triage automations (Sentry projects, generic webhooks): list them with their state, pause and
resume. Mounted by api.create_app behind the same bearer-token check as the rest of /api."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from control_plane.automations import Automations, AutomationStatus

router = APIRouter(prefix="/api")
AutomationId = Annotated[str, Path(min_length=1, max_length=300, description='"sentry:<project>" or "webhook:<name>"')]


class PauseRequest(BaseModel):
    reason: str = Field("paused by hand", max_length=500)
    by: str = Field("api", min_length=1, max_length=200)


def _automations(request: Request) -> Automations:
    automations: Automations = request.app.state.automations
    return automations


Registry = Annotated[Automations, Depends(_automations)]


@router.get("/automations")
async def list_automations(automations: Registry) -> list[AutomationStatus]:
    return await automations.list()


@router.post("/automations/{automation_id}/pause")
async def pause_automation(automation_id: AutomationId, body: PauseRequest, automations: Registry) -> AutomationStatus:
    """New alerts or deliveries for it are acknowledged and counted, not run; follow-ups to its sessions still go."""
    return await automations.pause(automation_id, f"{body.reason} ({body.by})")


@router.post("/automations/{automation_id}/resume")
async def resume_automation(automation_id: AutomationId, automations: Registry) -> AutomationStatus:
    return await automations.resume(automation_id)
