"""Pull request figures for `nightshift stats` and GET /api/stats: a pure summary of the recorded pull requests."""

from collections import defaultdict
from collections.abc import Callable, Iterable
from statistics import mean, median

from pydantic import BaseModel

from control_plane.pull_requests import PullRequestRecord


class PrTotals(BaseModel):
    opened: int = 0
    merged: int = 0
    closed: int = 0
    """Closed without being merged."""
    open: int = 0
    comments: int = 0
    reviews: int = 0
    comments_per_pr: float = 0.0
    median_time_to_merge_s: float | None = None
    mean_time_to_merge_s: float | None = None


class PrStats(BaseModel):
    since: float | None = None
    """Only pull requests opened at or after this Unix time; None: all of them."""
    total: PrTotals
    by_repo: dict[str, PrTotals]
    by_source: dict[str, PrTotals]
    by_person: dict[str, PrTotals]
    """By who asked for the work."""


def totals(records: Iterable[PullRequestRecord]) -> PrTotals:
    rows = list(records)
    to_merge = [r.merged_at - r.opened_at for r in rows if r.merged_at is not None]
    comments = sum(r.comments for r in rows)
    return PrTotals(
        opened=len(rows),
        merged=sum(r.state == "merged" for r in rows),
        closed=sum(r.state == "closed" for r in rows),
        open=sum(r.state == "open" for r in rows),
        comments=comments,
        reviews=sum(r.reviews for r in rows),
        comments_per_pr=round(comments / len(rows), 2) if rows else 0.0,
        median_time_to_merge_s=median(to_merge) if to_merge else None,
        mean_time_to_merge_s=mean(to_merge) if to_merge else None,
    )


def grouped(records: list[PullRequestRecord], key: Callable[[PullRequestRecord], str]) -> dict[str, PrTotals]:
    groups: dict[str, list[PullRequestRecord]] = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    return {name: totals(group) for name, group in sorted(groups.items())}


def summarize(records: Iterable[PullRequestRecord], *, since: float | None = None) -> PrStats:
    rows = [r for r in records if since is None or r.opened_at >= since]
    return PrStats(
        since=since,
        total=totals(rows),
        by_repo=grouped(rows, lambda r: r.repo),
        by_source=grouped(rows, lambda r: r.source),
        by_person=grouped(rows, lambda r: r.requested_by),
    )
