"""Fleet numbers for the dashboard, from session records, their log digests and the pull requests the GitHub
integration recorded. Pure: the route reads Redis and passes `now`.

Pull requests: opened and merged come from the recorded pull requests (control_plane.pull_requests). A pushed
branch is counted on its own ("pushed"), so an install without the GitHub integration, or with local
repositories, still sees the work that came out of its sessions.
"""

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import get_args

from control_plane.models import Session, Source
from control_plane.pull_requests import PullRequestRecord
from control_plane.stats import PrTotals, grouped, totals
from control_plane.web.facts import SessionFacts

SOURCES: tuple[str, ...] = get_args(Source)
PR_SERIES = ("pushed", "opened", "merged")


@dataclass(frozen=True)
class Ranked:
    session: Session
    value: float


@dataclass
class Fleet:
    days: list[str]
    """The window's days, oldest first (UTC)."""
    sessions_by_day: dict[str, Counter[str]] = field(default_factory=dict)
    """Per day: how many sessions each source started."""
    prs_by_day: dict[str, Counter[str]] = field(default_factory=dict)
    """Per day: branches first pushed, pull requests opened, pull requests merged."""
    cost_by_day: dict[str, float] = field(default_factory=dict)
    cost_by_repo: list[tuple[str, float]] = field(default_factory=list)
    """Most expensive repositories first."""
    sessions: int = 0
    cost_usd: float = 0.0
    pushed: int = 0
    """Sessions whose work was pushed as a branch (not only as a checkpoint)."""
    median_time_to_push_s: float | None = None
    prs: PrTotals = field(default_factory=PrTotals)
    prs_by_repo: dict[str, PrTotals] = field(default_factory=dict)
    prs_by_model: dict[str, PrTotals] = field(default_factory=dict)
    """By the model the session that opened it ran on ("unknown" when that session started before the window)."""
    median_time_to_pr_s: float | None = None
    """From a session's start to its pull request being opened."""
    slowest: list[Ranked] = field(default_factory=list)
    most_expensive: list[Ranked] = field(default_factory=list)

    @property
    def merge_rate(self) -> float | None:
        return self.prs.merged / self.prs.opened if self.prs.opened else None

    @property
    def sources(self) -> list[str]:
        """Sources that started anything in the window, in a fixed order so colours stay put."""
        seen = {s for counts in self.sessions_by_day.values() for s in counts}
        return [s for s in SOURCES if s in seen]


def window(now: float, days: int) -> tuple[float, list[str]]:
    """The start of the window (midnight UTC, `days` days including today) and its day labels."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    return first.timestamp(), [(first + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]


def day_of(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def fleet(
    rows: list[tuple[Session, SessionFacts]],
    prs: list[PullRequestRecord],
    *,
    now: float,
    days: int,
    top: int = 8,
    model_of: Callable[[Session], str] = lambda s: s.model or "default",
) -> Fleet:
    since, labels = window(now, days)
    f = Fleet(
        days=labels,
        sessions_by_day={d: Counter() for d in labels},
        prs_by_day={d: Counter() for d in labels},
        cost_by_day=dict.fromkeys(labels, 0.0),
    )
    in_window = [(s, facts) for s, facts in rows if s.created_at >= since]
    by_repo: dict[str, float] = defaultdict(float)
    to_push: list[float] = []
    for s, facts in in_window:
        f.sessions_by_day[day_of(s.created_at)][s.source] += 1
        f.cost_by_day[day_of(s.created_at)] += s.cost_usd
        by_repo[s.repo] += s.cost_usd
        if facts.first_push_at is not None:
            to_push.append(facts.first_push_at - s.created_at)
            _count(f.prs_by_day, facts.first_push_at, "pushed")
    _pull_requests(f, [r for r in prs if r.opened_at >= since], {s.id: s for s, _ in rows}, model_of)
    f.sessions = len(in_window)
    f.cost_usd = sum(s.cost_usd for s, _ in in_window)
    f.cost_by_repo = sorted(by_repo.items(), key=lambda rc: -rc[1])[:top]
    f.pushed = len(to_push)
    f.median_time_to_push_s = statistics.median(to_push) if to_push else None
    f.slowest = _top([Ranked(s, facts.active_s) for s, facts in in_window if facts.active_s > 0], top)
    f.most_expensive = _top([Ranked(s, s.cost_usd) for s, _ in in_window if s.cost_usd > 0], top)
    return f


def _pull_requests(
    f: Fleet, prs: list[PullRequestRecord], sessions: dict[str, Session], model_of: Callable[[Session], str]
) -> None:
    f.prs = totals(prs)
    f.prs_by_repo = grouped(prs, lambda r: r.repo)
    f.prs_by_model = grouped(prs, lambda r: model_of(sessions[r.session_id]) if r.session_id in sessions else "unknown")
    to_pr = [r.opened_at - sessions[r.session_id].created_at for r in prs if r.session_id in sessions]
    f.median_time_to_pr_s = statistics.median(to_pr) if to_pr else None
    for r in prs:
        _count(f.prs_by_day, r.opened_at, "opened")
        if r.merged_at is not None:
            _count(f.prs_by_day, r.merged_at, "merged")


def _count(by_day: dict[str, Counter[str]], at: float, what: str) -> None:
    label = day_of(at)
    if label in by_day:  # a push or merge after the window's last day (clock skew) has no column
        by_day[label][what] += 1


def _top(items: list[Ranked], n: int) -> list[Ranked]:
    return sorted(items, key=lambda r: -r.value)[:n]
