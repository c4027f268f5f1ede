"""Daily budgets per repository and per person: every model call's cost is counted in Redis; a session whose repo or
requester has spent the day's budget stops before its next call, with a wrap-up report and the reason."""

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from spine import marker, settings_for, wait_status, worker_running

from control_plane import keys
from control_plane.daily_budgets import DailyBudgetConfig, over_budget, utc_day
from control_plane.models import NewSession, Session
from control_plane.runtime import Runtime
from control_plane.sessions import create_session
from harness.events import ModelTurnEvent, RunFinished
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, ScriptedUsage, tool_use

USAGE = ScriptedUsage(input_tokens=10_000, output_tokens=0, cache_read_input_tokens=0, cache_creation_input_tokens=0)
"""$0.03 a call at claude-sonnet-4's $3 per million input tokens."""


@pytest.fixture
async def budget_rt(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, redis: Redis, request: pytest.FixtureRequest
) -> AsyncIterator[Runtime]:
    async with Runtime.open(settings_for(tmp_path, redis_url, standin.base_url, **request.param)) as rt:
        yield rt


async def run_one(rt: Runtime, repo: Path, who: str, standin: AnthropicStandIn, *turns: Reply) -> Session:
    tag = marker()
    standin.register(Script(list(turns), key=tag))
    req = NewSession(repo=str(repo), prompt=f"{tag} work", requested_by=who, source="cli")
    session = await create_session(rt.store, req, max_prompt_bytes=rt.settings.max_prompt_bytes)
    async with worker_running(rt):
        return await wait_status(rt, session.id, {"finished", "failed", "cancelled"})


async def ending(rt: Runtime, session: Session) -> tuple[int, str]:
    """Model calls made, and the run's summary."""
    events = [e.event for e in await rt.store.events(session.id)]
    [finished] = [e for e in events if isinstance(e, RunFinished)]
    return sum(isinstance(e, ModelTurnEvent) for e in events), finished.summary


def shell() -> Reply:
    return Reply(tool_use("shell", {"command": "true"}), usage=USAGE)


REPORT = Reply("Done: nothing much. Remains: everything.", usage=USAGE)


@pytest.mark.parametrize("budget_rt", [{"daily_budget_per_repo_usd": 0.05}], indirect=True)
async def test_repo_budget_stops_every_session_of_that_repo(
    budget_rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    rt = budget_rt
    first = await run_one(rt, remote, "ana", standin, shell(), shell(), REPORT)
    assert first.status == "failed"
    calls, summary = await ending(rt, first)
    assert calls == 3  # two steps ($0.06 >= $0.05), then the wrap-up report
    assert summary.startswith(f"daily budget of repository {remote} exhausted ($0.06 of $0.05 today)")
    assert "Remains: everything." in summary
    day = utc_day(time.time())
    assert float(await rt.redis.get(keys.daily_spend(day, "repo", str(remote)))) == pytest.approx(0.09)

    second = await run_one(rt, remote, "bo", standin, REPORT)  # someone else, same repo: stopped before any step
    assert second.status == "failed"
    assert await ending(rt, second) == (
        1,
        f"daily budget of repository {remote} exhausted ($0.09 of $0.05 today)\n\n"
        "Done: nothing much. Remains: everything.",
    )


@pytest.mark.parametrize("budget_rt", [{"daily_budget_per_person_usd": 0.05}], indirect=True)
async def test_person_budget_stops_only_that_persons_sessions(
    budget_rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    rt = budget_rt
    first = await run_one(rt, remote, "ana", standin, shell(), shell(), REPORT)
    assert first.status == "failed"
    assert (await ending(rt, first))[1].startswith("daily budget of ana exhausted ($0.06 of $0.05 today)")

    others = await run_one(rt, remote, "bo", standin, Reply(tool_use("finish", {"summary": "ok"}), usage=USAGE))
    assert (others.status, await ending(rt, others)) == ("finished", (1, "ok"))

    again = await run_one(rt, remote, "ana", standin, REPORT)
    assert again.status == "failed"
    calls, summary = await ending(rt, again)
    assert (calls, summary.splitlines()[0]) == (1, "daily budget of ana exhausted ($0.09 of $0.05 today)")


@pytest.mark.parametrize(
    ("config", "repo_spent", "person_spent", "reason"),
    [
        (DailyBudgetConfig(), 1e9, 1e9, None),
        (DailyBudgetConfig(per_repo_usd=5), 4.99, 0, None),
        (
            DailyBudgetConfig(per_repo_usd=5),
            5,
            0,
            "daily budget of repository acme/app exhausted ($5.00 of $5.00 today)",
        ),
        (DailyBudgetConfig(per_repo_usd=5, repos={"acme/app": 50}), 20, 0, None),
        (
            DailyBudgetConfig(repos={"acme/app": 10}),
            12,
            0,
            "daily budget of repository acme/app exhausted ($12.00 of $10.00 today)",
        ),
        (DailyBudgetConfig(repos={"acme/other": 10}), 12, 0, None),
        (DailyBudgetConfig(per_person_usd=2), 0, 2.5, "daily budget of ana exhausted ($2.50 of $2.00 today)"),
    ],
)
def test_over_budget(config: DailyBudgetConfig, repo_spent: float, person_spent: float, reason: str | None) -> None:
    session = Session(
        id="s1",
        repo="acme/app",
        base=None,
        branch="b",
        title="t",
        source="cli",
        requested_by="ana",
        status="running",
        created_at=0,
        updated_at=0,
    )
    assert over_budget(session, config, repo_spent, person_spent) == reason


def test_days_are_utc() -> None:
    assert utc_day(86_400 * 365) == "1971-01-01"
    assert utc_day(86_400 * 365 - 1) == "1970-12-31"
