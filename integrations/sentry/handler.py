"""One accepted alert: a note into the issue's triage session, or a new triage session when the project has room
under its limit (else Deferred: the alert stays in the stream and is offered again)."""

import logging

from redis.asyncio import Redis

from control_plane import keys
from control_plane.errors import OriginTaken
from control_plane.git import GitCredentials
from control_plane.models import NewMessage, NewSession
from control_plane.sessions import create_session, post_message
from control_plane.store import SessionStore
from harness.events import TERMINAL_STATUSES
from integrations.sentry.config import SentryConfig
from integrations.sentry.models import Alert, Delivery
from integrations.sentry.prompt import repeat_note, triage_prompt
from integrations.streams import Deferred

log = logging.getLogger(__name__)


class AlertHandler:
    def __init__(
        self, config: SentryConfig, redis: Redis, store: SessionStore, credentials: GitCredentials | None
    ) -> None:
        self.config, self.redis, self.store, self.credentials = config, redis, store, credentials

    async def __call__(self, raw: str) -> None:
        alert = Delivery.model_validate_json(raw).alert
        repo = self.config.project_repos.get(alert.project)
        if repo is None:
            log.warning("Sentry alert for project %r, which maps to no repository: ignored", alert.project)
            return
        holder = await self.store.by_origin(alert.origin)
        if holder is not None:
            return await self._repeat(holder, alert)
        lock = self.redis.lock(keys.sentry_starting(alert.project), timeout=120, blocking_timeout=5)
        if not await lock.acquire():
            raise Deferred  # another process is starting one of this project's sessions
        try:
            await self._start(alert, repo)
        finally:
            await lock.release()

    async def _start(self, alert: Alert, repo: str) -> None:
        if await self.running(alert.project) >= self.config.max_concurrent:
            raise Deferred  # the storm waits in the stream; nothing is dropped
        req = NewSession(
            repo=repo,
            prompt=triage_prompt(alert, max_breadcrumbs=self.config.max_breadcrumbs),
            title=f"Triage: {alert.title}"[:200],
            requested_by="sentry",
            source="sentry",
            origin=alert.origin,
            origin_url=alert.web_url,
        )
        try:
            session = await create_session(
                self.store, req, max_prompt_bytes=self.config.max_prompt_bytes, credentials=self.credentials
            )
        except OriginTaken as e:
            return await self._repeat(e.session_id, alert)  # another process started it a moment ago
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(keys.sentry_active(alert.project), session.id)
            if (channel := self.config.project_channels.get(alert.project)) is not None:
                pipe.set(keys.slack_report_channel(session.id), channel)
            await pipe.execute()

    async def running(self, project: str) -> int:
        """The project's triage sessions not yet ended; ended ones leave the set here."""
        active = keys.sentry_active(project)
        count = 0
        for session_id in await self.redis.smembers(active):
            if (await self.store.get(session_id)).status in TERMINAL_STATUSES:
                await self.redis.srem(active, session_id)
            else:
                count += 1
        return count

    async def _repeat(self, session_id: str, alert: Alert) -> None:
        # A running triage hears about the repeat; an ended one is not reopened per firing, or a storm of one
        # issue would become a storm of runs.
        if (await self.store.get(session_id)).status in TERMINAL_STATUSES:
            log.info("Sentry issue %s fired again; its triage session %s has ended", alert.issue_id, session_id)
            return
        note = NewMessage(text=repeat_note(alert, max_breadcrumbs=self.config.max_breadcrumbs), author="sentry")
        await post_message(self.store, session_id, note, max_prompt_bytes=self.config.max_prompt_bytes)
