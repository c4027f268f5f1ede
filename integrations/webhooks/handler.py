"""One accepted generic delivery: a new session, or a follow-up in the session its origin already has."""

from redis.asyncio import Redis

from control_plane import keys
from control_plane.config import WebhookConfig
from control_plane.errors import OriginTaken
from control_plane.git import GitCredentials
from control_plane.models import NewMessage, NewSession
from control_plane.sessions import create_session, post_message
from control_plane.store import SessionStore
from integrations.webhooks.models import HookDelivery


class HookHandler:
    def __init__(
        self,
        hooks: dict[str, WebhookConfig],
        redis: Redis,
        store: SessionStore,
        credentials: GitCredentials | None,
        *,
        max_prompt_bytes: int,
    ) -> None:
        self.hooks, self.redis, self.store, self.credentials = hooks, redis, store, credentials
        self.max_prompt_bytes = max_prompt_bytes

    async def __call__(self, raw: str) -> None:
        d = HookDelivery.model_validate_json(raw)
        hook = self.hooks[d.hook]  # accepted by this deployment's endpoint, so configured here
        holder = await self.store.by_origin(d.origin) if d.origin else None
        if holder is not None:
            return await self._follow_up(holder, d)
        req = NewSession(
            repo=hook.repo, prompt=d.prompt, requested_by=f"webhook:{d.hook}", source="webhook", origin=d.origin
        )
        try:
            session = await create_session(
                self.store, req, max_prompt_bytes=self.max_prompt_bytes, credentials=self.credentials
            )
        except OriginTaken as e:
            return await self._follow_up(e.session_id, d)
        if hook.slack_channel is not None:
            await self.redis.set(keys.slack_report_channel(session.id), hook.slack_channel)

    async def _follow_up(self, session_id: str, d: HookDelivery) -> None:
        note = NewMessage(text=d.prompt, author=f"webhook:{d.hook}")
        await post_message(self.store, session_id, note, max_prompt_bytes=self.max_prompt_bytes)
