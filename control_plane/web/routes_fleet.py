"""The dashboard (how the fleet is doing) and the read-only settings pages."""

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from control_plane import keys
from control_plane.git import Mirrors
from control_plane.models import Session
from control_plane.pull_requests import PullRequestStore
from control_plane.sandbox_config import for_repo
from control_plane.web import charts, present
from control_plane.web.auth import Member
from control_plane.web.dashboard import PR_SERIES, Fleet, fleet, window
from control_plane.web.deps import RedisDep, SettingsDep
from control_plane.web.facts import facts_for
from control_plane.web.listing import facet_counts, resolve_repo
from control_plane.web.pages import page
from control_plane.web.repo_config import repo_config
from control_plane.web.settings_view import setting_groups, shown

router = APIRouter()


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    caller: Member,
    redis: RedisDep,
    settings: SettingsDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    now = time.time()
    since, _ = window(now, days)
    ids = await redis.zrangebyscore(keys.SESSIONS, since, "+inf")
    async with redis.pipeline(transaction=False) as pipe:
        for session_id in ids:
            pipe.hgetall(keys.session(session_id))
        records = await pipe.execute()
    sessions = [Session.from_redis(r) for r in records if r]
    facts = await facts_for(redis, [s.id for s in sessions])
    prs = await PullRequestStore(redis).all(since=since)
    def model_of(s: Session) -> str:  # what the session ran on: its own choice, else its repo's, else the default
        return s.model or settings.repo_models.get(s.repo) or settings.model

    f = fleet([(s, facts[s.id]) for s in sessions], prs, now=now, days=days, model_of=model_of)
    return page(request, "dashboard.html", caller, fleet=f, days=days, **_charts(f))


def _charts(f: Fleet) -> dict[str, object]:
    def short(day: str) -> str:
        return day[5:]  # MM-DD

    def count(v: float) -> str:
        return f"{v:.0f}"

    by_source = {s: [f.sessions_by_day[d][s] for d in f.days] for s in f.sources}
    prs = {what: [f.prs_by_day[d][what] for d in f.days] for what in PR_SERIES}
    cost = {"cost": [f.cost_by_day[d] for d in f.days]}
    return {
        "sessions_chart": charts.columns("Sessions", f.days, by_source, count, short=short, whole=True),
        "prs_chart": charts.columns("Pull requests", f.days, prs, count, short=short, whole=True),
        "cost_chart": charts.columns("Cost", f.days, cost, present.money, short=short),
        "repo_bars": charts.bars([(present.repo_label(r), c, None) for r, c in f.cost_by_repo], present.money),
        "slow_bars": charts.bars(
            [(r.session.title, r.value, f"/sessions/{r.session.id}") for r in f.slowest], present.duration
        ),
        "costly_bars": charts.bars(
            [(r.session.title, r.value, f"/sessions/{r.session.id}") for r in f.most_expensive], present.money
        ),
    }


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, caller: Member, redis: RedisDep, settings: SettingsDep) -> Response:
    return page(
        request,
        "settings.html",
        caller,
        groups=setting_groups(settings),
        repos=await facet_counts(redis, "repo", top=1000),
        sources=await facet_counts(redis, "source"),
    )


@router.get("/settings/repo", response_class=HTMLResponse)
async def repo_settings(
    request: Request, caller: Member, redis: RedisDep, settings: SettingsDep, repo: str
) -> Response:
    resolved = await resolve_repo(redis, repo)
    return page(
        request,
        "repo.html",
        caller,
        repo=resolved,
        files=await repo_config(Mirrors(settings.data_dir / "mirrors"), resolved),
        sandbox=shown(for_repo(settings.repo_sandboxes, resolved)),
        model=settings.repo_models.get(resolved, settings.model),
    )
