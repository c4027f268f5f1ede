"""One accepted generic delivery: a new session (unless the hook is paused; when it is over its limit the delivery
waits), or a follow-up in the session the delivery's origin already has."""

from control_plane.config import WebhookConfig
from control_plane.models import NewMessage, NewSession
from control_plane.sessions import post_message
from integrations.triage import Existing, ReportTo, TriageStarter
from integrations.webhooks.models import HookDelivery


class HookHandler:
    def __init__(self, hooks: dict[str, WebhookConfig], starter: TriageStarter) -> None:
        self.hooks, self.starter = hooks, starter

    async def __call__(self, raw: str) -> None:
        d = HookDelivery.model_validate_json(raw)
        hook = self.hooks[d.hook]  # accepted by this deployment's endpoint, so configured here
        req = NewSession(
            repo=hook.repo, prompt=d.prompt, requested_by=f"webhook:{d.hook}", source="webhook", origin=d.origin
        )
        report = ReportTo(slack_channel=hook.slack_channel, github_issue=hook.github_issue)
        cause = f"webhook:{d.hook}:{d.delivery_id}"  # a delivery handled again is not a follow-up of itself
        automation = f"webhook:{d.hook}"
        result = await self.starter.start(automation, req, limit=hook.max_concurrent, report=report, cause=cause)
        if isinstance(result, Existing):
            note = NewMessage(text=d.prompt, author=f"webhook:{d.hook}")
            await post_message(
                self.starter.store,
                result.session_id,
                note,
                max_prompt_bytes=self.starter.max_prompt_bytes,
                cause=cause,
            )
