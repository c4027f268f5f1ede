"""Daily dollar budgets per repository and per person, counted in Redis across every worker.

The loop already prices each model call (harness.pricing); every call's cost is added to the day's counters
(INCRBYFLOAT, one key per UTC day, expiring after a few days). Before each model call the run asks whether its
repo or its requester has spent the day's budget; if so it ends like any other exhausted budget (a wrap-up
report, the work pushed as a checkpoint, the reason in the session's thread).
"""

import time
from collections.abc import Callable

from pydantic import BaseModel
from redis.asyncio import Redis

from control_plane import keys
from control_plane.models import Session


class DailyBudgetConfig(BaseModel):
    per_repo_usd: float | None = None
    """Dollars one repository's sessions may spend per UTC day; None: no limit."""
    per_person_usd: float | None = None
    """Dollars the sessions one person asked for may spend per UTC day; None: no limit."""
    repos: dict[str, float] = {}
    """Per-repository overrides of per_repo_usd (repo as the sessions record it)."""

    def repo_limit(self, repo: str) -> float | None:
        return self.repos.get(repo, self.per_repo_usd)


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def over_budget(session: Session, config: DailyBudgetConfig, repo_spent: float, person_spent: float) -> str | None:
    """Why the session may make no further model call today, or None."""
    repo_limit = config.repo_limit(session.repo)
    if repo_limit is not None and repo_spent >= repo_limit:
        return f"daily budget of repository {session.repo} exhausted (${repo_spent:.2f} of ${repo_limit:.2f} today)"
    person = config.per_person_usd
    if person is not None and person_spent >= person:
        return f"daily budget of {session.requested_by} exhausted (${person_spent:.2f} of ${person:.2f} today)"
    return None


class DailySpend:
    def __init__(self, redis: Redis, config: DailyBudgetConfig, clock: Callable[[], float] = time.time) -> None:
        self.redis, self.config, self.clock = redis, config, clock

    def _keys(self, session: Session) -> tuple[str, str]:
        day = utc_day(self.clock())
        return keys.daily_spend(day, "repo", session.repo), keys.daily_spend(day, "person", session.requested_by)

    async def add(self, session: Session, cost_usd: float) -> None:
        if cost_usd <= 0:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(session):
                pipe.incrbyfloat(key, cost_usd)
                pipe.expire(key, keys.DAILY_SPEND_TTL_S)
            await pipe.execute()

    async def spent(self, session: Session) -> tuple[float, float]:
        repo, person = await self.redis.mget(self._keys(session))
        return float(repo or 0), float(person or 0)

    def limit_for(self, session: Session) -> "SessionSpendLimit":
        return SessionSpendLimit(self, session)


class SessionSpendLimit:
    """The loop's SpendLimit for one session: its repo's and its requester's budgets for today."""

    def __init__(self, spend: DailySpend, session: Session) -> None:
        self.spend, self.session = spend, session

    async def exceeded(self) -> str | None:
        repo_spent, person_spent = await self.spend.spent(self.session)
        return over_budget(self.session, self.spend.config, repo_spent, person_spent)
