"""Starting an automation's session (a Sentry project's, a generic webhook's), the same way for both: a paused
automation skips the delivery, an origin that already has a session is handed back for a follow-up, at most `limit`
of the automation's sessions run at once (more wait: Deferred), and a session that cannot start counts as a failure
of the automation."""

import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from control_plane import keys
from control_plane.automations import AutomationHealth, Automations
from control_plane.errors import BadRequest, OriginTaken
from control_plane.git import GitCredentials
from control_plane.models import NewSession
from control_plane.sessions import create_session
from control_plane.store import SessionStore
from harness.events import TERMINAL_STATUSES
from integrations.streams import Deferred

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    session_id: str


@dataclass(frozen=True)
class Existing:
    """The delivery's origin already has this session: the caller decides what a repeat means."""

    session_id: str


@dataclass(frozen=True)
class Skipped:
    reason: str


@dataclass(frozen=True)
class ReportTo:
    """Where the session's report goes besides its own log (posted by the Slack and GitHub integrations)."""

    slack_channel: str | None = None
    github_issue: str | None = None
    """"owner/name#number": the report is a comment there."""


class TriageStarter:
    def __init__(
        self,
        redis: Redis,
        store: SessionStore,
        health: AutomationHealth,
        *,
        credentials: GitCredentials | None,
        max_prompt_bytes: int,
    ) -> None:
        self.redis, self.store, self.health = redis, store, health
        self.credentials, self.max_prompt_bytes = credentials, max_prompt_bytes

    @property
    def automations(self) -> Automations:
        return self.health.automations

    async def start(
        self, automation_id: str, req: NewSession, *, limit: int, report: ReportTo, cause: str | None = None
    ) -> Started | Existing | Skipped:
        """`cause`: what the delivery is (a Sentry event...), remembered with the session it starts, so that a retry
        of the same delivery is known as such by the caller (keys.message_cause)."""
        if req.origin is not None and (holder := await self.store.by_origin(req.origin)) is not None:
            return Existing(holder)
        if await self.automations.skip_if_paused(automation_id):
            log.info("automation %s is paused: %s not started", automation_id, req.origin or "a delivery")
            return Skipped("paused")
        if await self.running(automation_id) >= limit:
            raise Deferred  # full: a storm's waiting deliveries cost a count each, not a lock
        lock = self.redis.lock(keys.automation_starting(automation_id), timeout=120, blocking_timeout=5)
        if not await lock.acquire():
            raise Deferred  # another process is starting one of this automation's sessions
        try:
            if await self.running(automation_id) >= limit:
                raise Deferred  # counted again under the lock: another process may have taken the last slot
            return await self._create(automation_id, req, report, cause)
        finally:
            await lock.release()

    async def _create(
        self, automation_id: str, req: NewSession, report: ReportTo, cause: str | None
    ) -> Started | Existing | Skipped:
        try:
            session = await create_session(
                self.store, req, max_prompt_bytes=self.max_prompt_bytes, credentials=self.credentials, cause=cause
            )
        except OriginTaken as e:
            return Existing(e.session_id)  # another process started it a moment ago
        except BadRequest as e:
            # The configuration points somewhere that does not work (repo gone, base unknown, prompt too large):
            # retrying the same delivery cannot help, but the automation's failure count must see it.
            log.error("automation %s could not start a session: %s", automation_id, e)
            await self.health.failure_or_success(automation_id, failed=True, why=f"could not start a session: {e}")
            return Skipped(str(e))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(keys.automation_active(automation_id), session.id)
            if report.slack_channel is not None:
                pipe.set(keys.slack_report_channel(session.id), report.slack_channel)
            if report.github_issue is not None:
                pipe.set(keys.github_report_issue(session.id), report.github_issue)
            await pipe.execute()
        await self.automations.started(automation_id, session.id)
        return Started(session.id)

    async def running(self, automation_id: str) -> int:
        """The automation's sessions not yet ended; ended ones leave the set here."""
        active = keys.automation_active(automation_id)
        count = 0
        for session_id in await self.redis.smembers(active):
            if (await self.store.get(session_id)).status in TERMINAL_STATUSES:
                await self.redis.srem(active, session_id)
            else:
                count += 1
        return count
