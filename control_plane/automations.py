"""Triage automations: each Sentry project mapping and each generic webhook starts sessions on its own. People list,
pause and resume them; one whose sessions fail `max_failures` times in a row pauses itself (and says so, through the
notifier the composition root gives). The configuration says what exists; Redis keeps each one's state."""

import logging
import time
from typing import Literal, Protocol

from pydantic import BaseModel
from redis.asyncio import Redis

from control_plane import keys
from control_plane.config import Settings
from control_plane.errors import NotFound
from control_plane.models import Session
from harness.events import RunOutcome

log = logging.getLogger(__name__)

AutomationKind = Literal["sentry", "webhook"]


class Automation(BaseModel):
    """What the configuration says: `id` is "sentry:<project>" or "webhook:<name>"."""

    id: str
    kind: AutomationKind
    repo: str
    slack_channel: str | None = None


class AutomationState(BaseModel):
    paused: bool = False
    paused_reason: str = ""
    paused_at: float | None = None
    consecutive_failures: int = 0
    skipped_while_paused: int = 0
    """Alerts or deliveries that would have started a session while paused (they are acknowledged, not run)."""
    last_session_id: str | None = None


class AutomationStatus(Automation):
    state: AutomationState


class PauseNotifier(Protocol):
    async def automation_paused(self, automation: Automation, reason: str) -> None:
        """Tell people (Slack) that the automation paused itself; raise NightshiftError when that fails."""
        ...


def configured_automations(s: Settings) -> dict[str, Automation]:
    found = [
        Automation(
            id=f"sentry:{project}", kind="sentry", repo=repo, slack_channel=s.sentry_project_channels.get(project)
        )
        for project, repo in s.sentry_project_repos.items()
    ]
    found += [
        Automation(id=f"webhook:{name}", kind="webhook", repo=hook.repo, slack_channel=hook.slack_channel)
        for name, hook in s.webhooks.items()
    ]
    return {a.id: a for a in found}


# KEYS: state hash. ARGV: failed (1/0), max failures, now, reason. Returns 1 when this failure paused it.
_RECORD = """
if ARGV[1] == '0' then
  redis.call('HSET', KEYS[1], 'consecutive_failures', 0)
  return 0
end
local n = redis.call('HINCRBY', KEYS[1], 'consecutive_failures', 1)
if n >= tonumber(ARGV[2]) and redis.call('HGET', KEYS[1], 'paused') ~= '1' then
  redis.call('HSET', KEYS[1], 'paused', '1', 'paused_at', ARGV[3], 'paused_reason', ARGV[4])
  return 1
end
return 0
"""


class Automations:
    def __init__(self, redis: Redis, configured: dict[str, Automation], *, max_failures: int = 3) -> None:
        self.redis, self.configured, self.max_failures = redis, configured, max_failures
        self._record = redis.register_script(_RECORD)

    def get(self, automation_id: str) -> Automation:
        if automation_id not in self.configured:
            known = ", ".join(sorted(self.configured)) or "none are configured"
            raise NotFound(f"no automation {automation_id!r} (known: {known})")
        return self.configured[automation_id]

    async def state(self, automation_id: str) -> AutomationState:
        raw: dict[str, str] = await self.redis.hgetall(keys.automation(automation_id))
        return AutomationState(
            paused=raw.get("paused") == "1",
            paused_reason=raw.get("paused_reason", ""),
            paused_at=float(raw["paused_at"]) if "paused_at" in raw else None,
            consecutive_failures=int(raw.get("consecutive_failures", 0)),
            skipped_while_paused=int(raw.get("skipped_while_paused", 0)),
            last_session_id=raw.get("last_session_id"),
        )

    async def list(self) -> list[AutomationStatus]:
        return [
            AutomationStatus(**a.model_dump(), state=await self.state(a.id))
            for a in sorted(self.configured.values(), key=lambda a: a.id)
        ]

    async def pause(self, automation_id: str, reason: str) -> AutomationStatus:
        self.get(automation_id)
        await self.redis.hset(
            keys.automation(automation_id),
            mapping={"paused": "1", "paused_at": str(time.time()), "paused_reason": reason},
        )
        return await self.status(automation_id)

    async def resume(self, automation_id: str) -> AutomationStatus:
        """Runs again, with a clean slate: the failure count starts over."""
        self.get(automation_id)
        await self.redis.hset(
            keys.automation(automation_id), mapping={"paused": "0", "consecutive_failures": "0", "paused_reason": ""}
        )
        await self.redis.hdel(keys.automation(automation_id), "paused_at")
        return await self.status(automation_id)

    async def status(self, automation_id: str) -> AutomationStatus:
        return AutomationStatus(**self.get(automation_id).model_dump(), state=await self.state(automation_id))

    async def skip_if_paused(self, automation_id: str) -> bool:
        """True when paused: the caller skips the delivery that would have started a session, and it is counted."""
        if await self.redis.hget(keys.automation(automation_id), "paused") != "1":
            return False
        await self.redis.hincrby(keys.automation(automation_id), "skipped_while_paused", 1)
        return True

    async def started(self, automation_id: str, session_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.automation_of(session_id), automation_id)
            pipe.hset(keys.automation(automation_id), "last_session_id", session_id)
            await pipe.execute()

    async def of_session(self, session_id: str) -> str | None:
        found: str | None = await self.redis.get(keys.automation_of(session_id))
        return found if found in self.configured else None  # an automation since removed from the config is gone

    async def record(self, automation_id: str, *, failed: bool, why: str) -> bool:
        """Count a success (resets) or a failure; True when this failure made the automation pause itself."""
        reason = f"{self.max_failures} failures in a row; the last: {why}"[:500]
        paused = await self._record(
            keys=[keys.automation(automation_id)], args=["1" if failed else "0", self.max_failures, time.time(), reason]
        )
        return bool(paused)


class AutomationHealth:
    """RunObserver: counts each automation-started run as a success or a failure and pauses the automation after
    too many failures in a row. A cancelled run counts as neither (a person stopped it)."""

    def __init__(self, automations: Automations, notifier: PauseNotifier | None) -> None:
        self.automations, self.notifier = automations, notifier

    async def run_ended(self, session: Session, outcome: RunOutcome) -> None:
        if outcome in ("waiting", "cancelled"):
            return
        automation_id = await self.automations.of_session(session.id)
        if automation_id is None:
            return  # not started by an automation
        failed = outcome != "finished"
        why = f"session {session.id} ended {outcome.replace('_', ' ')}" + (
            f": {session.error}" if session.error else ""
        )
        await self.failure_or_success(automation_id, failed=failed, why=why)

    async def failure_or_success(self, automation_id: str, *, failed: bool, why: str) -> None:
        """Also called by the intakes when a delivery could not start its session at all."""
        if not await self.automations.record(automation_id, failed=failed, why=why):
            return
        automation = self.automations.configured[automation_id]
        reason = (await self.automations.state(automation_id)).paused_reason
        log.warning("automation %s paused itself: %s", automation_id, reason)
        if self.notifier is not None:
            await self.notifier.automation_paused(automation, reason)
