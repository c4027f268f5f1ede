"""One accepted alert: a new triage session when the project's automation has room (else Deferred: the alert stays
in the stream and is offered again), or, when the Sentry issue already has a session, a repeat: passed to a
running session at most once per interval (the rest counted and told with the next), logged on an ended one."""

import logging

from redis.asyncio import Redis

from control_plane import keys
from control_plane.models import NewMessage, NewSession
from control_plane.sessions import post_message
from control_plane.store import SessionStore
from harness.events import TERMINAL_STATUSES, Note
from integrations.sentry.config import SentryConfig
from integrations.sentry.models import Alert, Delivery
from integrations.sentry.prompt import repeat_note, triage_prompt
from integrations.triage import Existing, ReportTo, TriageStarter

log = logging.getLogger(__name__)


class AlertHandler:
    def __init__(self, config: SentryConfig, redis: Redis, store: SessionStore, starter: TriageStarter) -> None:
        self.config, self.redis, self.store, self.starter = config, redis, store, starter

    async def __call__(self, raw: str) -> None:
        delivery = Delivery.model_validate_json(raw)
        alert = delivery.alert
        # The Sentry event (else the delivery): a retried delivery must not become a repeat of itself.
        cause = f"sentry:{alert.project}:{alert.event_id or delivery.request_id}"
        repo = self.config.project_repos.get(alert.project)
        if repo is None:
            log.warning("Sentry alert for project %r, which maps to no repository: ignored", alert.project)
            return
        req = NewSession(
            repo=repo,
            prompt=triage_prompt(alert, max_breadcrumbs=self.config.max_breadcrumbs),
            title=f"Triage: {alert.title}"[:200],
            requested_by="sentry",
            source="sentry",
            origin=alert.origin,
            origin_url=alert.web_url,
        )
        report = ReportTo(slack_channel=self.config.project_channels.get(alert.project))
        result = await self.starter.start(
            f"sentry:{alert.project}", req, limit=self.config.max_concurrent, report=report, cause=cause
        )
        if isinstance(result, Existing):
            await self._repeat(result.session_id, alert, cause)

    async def _repeat(self, session_id: str, alert: Alert, cause: str) -> None:
        # This very event is in the session already: it started it, or was told as a repeat (a retried delivery).
        told = keys.message_cause(session_id, cause)
        if await self.redis.exists(told):
            return
        # An ended triage is not reopened per firing (a storm of one issue would become a storm of runs): the
        # repeat goes to its log for people. A running one hears of it, at most once per interval.
        if (await self.store.get(session_id)).status in TERMINAL_STATUSES:
            if await self.redis.set(told, "1", nx=True, ex=keys.CAUSE_TTL_S):
                await self.store.append(session_id, Note(text=f"Sentry issue {alert.issue_id} fired again"))
            return
        gate = keys.repeat_gate(session_id)
        if not await self.redis.set(gate, "1", nx=True, ex=self.config.repeat_note_interval_s):
            if not await self.redis.set(told, "1", nx=True, ex=keys.CAUSE_TTL_S):
                return
            await self.redis.incr(keys.repeats_held(session_id))
            await self.store.append(session_id, Note(text=f"Sentry issue {alert.issue_id} fired again (held)"))
            return
        held = int(await self.redis.getdel(keys.repeats_held(session_id)) or 0)
        text = repeat_note(alert, max_breadcrumbs=self.config.max_breadcrumbs, held=held)
        await post_message(
            self.store,
            session_id,
            NewMessage(text=text, author="sentry"),
            max_prompt_bytes=self.config.max_prompt_bytes,
            cause=cause,
        )
