"""Pull request figures: the pure summary (a table of cases), the Redis record it reads, and `nightshift stats`."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from control_plane.pull_requests import PullRequestRecord, PullRequestStore
from control_plane.stats import summarize, totals

CLI = str(Path(sys.executable).parent / "nightshift")
HOUR = 3600.0


def pr(
    n: int,
    *,
    state: str = "open",
    repo: str = "acme/calc",
    source: str = "github",
    by: str = "alice",
    opened: float = 0.0,
    merged_after: float | None = None,
    comments: int = 0,
    reviews: int = 0,
) -> PullRequestRecord:
    merged_at = opened + merged_after if merged_after is not None else None
    return PullRequestRecord(
        key=f"{repo}#{n}",
        repo=repo,
        number=n,
        url=f"https://github.com/{repo}/pull/{n}",
        session_id=f"s{n}",
        source=source,  # type: ignore[arg-type]
        requested_by=by,
        opened_at=opened,
        state=state,  # type: ignore[arg-type]
        merged_at=merged_at,
        closed_at=merged_at if state == "merged" else (opened + HOUR if state == "closed" else None),
        comments=comments,
        reviews=reviews,
    )


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([], {"opened": 0, "merged": 0, "comments_per_pr": 0.0, "median_time_to_merge_s": None}),
        ([pr(1)], {"opened": 1, "open": 1, "merged": 0, "median_time_to_merge_s": None}),
        (
            [
                pr(1, state="merged", merged_after=HOUR),
                pr(2, state="merged", merged_after=3 * HOUR),
                pr(3, state="closed"),
            ],
            {"opened": 3, "merged": 2, "closed": 1, "open": 0, "median_time_to_merge_s": 2 * HOUR},
        ),
        (
            [
                pr(1, state="merged", merged_after=HOUR),
                pr(2, state="merged", merged_after=2 * HOUR),
                pr(3, state="merged", merged_after=9 * HOUR),
            ],
            {"median_time_to_merge_s": 2 * HOUR, "mean_time_to_merge_s": 4 * HOUR},
        ),
        (
            [pr(1, comments=3, reviews=1), pr(2, comments=0), pr(3, comments=1)],
            {"comments": 4, "reviews": 1, "comments_per_pr": 1.33},
        ),
    ],
)
def test_totals(records: list[PullRequestRecord], expected: dict[str, object]) -> None:
    got = totals(records).model_dump()
    assert {k: got[k] for k in expected} == expected


def test_summary_groups_by_repo_source_and_person_and_filters_by_time() -> None:
    records = [
        pr(1, by="alice", source="github", opened=10, state="merged", merged_after=HOUR),
        pr(2, by="bo", source="slack", opened=20, repo="acme/web"),
        pr(3, by="alice", source="web", opened=30, state="closed"),
    ]
    stats = summarize(records)
    assert stats.total.opened == 3
    assert {k: v.opened for k, v in stats.by_person.items()} == {"alice": 2, "bo": 1}
    assert {k: v.merged for k, v in stats.by_source.items()} == {"github": 1, "slack": 0, "web": 0}
    assert {k: v.opened for k, v in stats.by_repo.items()} == {"acme/calc": 2, "acme/web": 1}
    later = summarize(records, since=15)
    assert (later.since, later.total.opened, list(later.by_person)) == (15, 2, ["alice", "bo"])


async def test_the_store_records_only_prs_it_opened_and_counts_each_comment_once(redis: Redis) -> None:
    prs = PullRequestStore(redis)
    record = pr(7, opened=100.0)
    assert await prs.opened(record)
    assert not await prs.opened(record.model_copy(update={"session_id": "other"}))  # the first record stays
    assert await prs.commented(record.key, "issue_comment:1", at=110, actor="tom")
    assert await prs.commented(record.key, "issue_comment:1", at=110, actor="tom")  # the same comment again
    assert await prs.reviewed(record.key, "55", at=120, actor="alice")
    assert await prs.closed(record.key, merged=True, at=100.0 + HOUR, actor="alice")
    assert not await prs.closed("acme/calc#8", merged=True, at=1, actor="x")
    assert not await prs.commented("acme/calc#8", "1", at=1, actor="x")
    got = await prs.get(record.key)
    assert got is not None
    assert (got.session_id, got.state, got.comments, got.reviews, got.merged_at) == ("s7", "merged", 1, 1, 100.0 + HOUR)
    assert [r.key for r in await prs.all()] == [record.key] and await prs.all(since=101) == []


def test_nightshift_stats_prints_the_figures(tmp_path: Path, redis_url: str) -> None:
    import asyncio

    async def seed() -> None:
        client = Redis.from_url(redis_url, decode_responses=True)
        await client.flushall()
        prs = PullRequestStore(client)
        now = time.time()
        await prs.opened(pr(1, by="alice", opened=now - 5 * HOUR))
        await prs.closed("acme/calc#1", merged=True, at=now - 2 * HOUR, actor="alice")
        await prs.opened(pr(2, by="bo", source="slack", opened=now - 40 * 24 * HOUR))
        await client.aclose()

    asyncio.run(seed())
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "d"),
        "REDIS_URL": redis_url,
    }

    def stats(*args: str) -> str:
        done = subprocess.run([CLI, "stats", *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    figures = json.loads(stats("--json"))
    assert (figures["total"]["opened"], figures["total"]["merged"]) == (2, 1)
    assert figures["total"]["median_time_to_merge_s"] == pytest.approx(3 * HOUR, abs=5)
    recent = json.loads(stats("--json", "--days", "7"))
    assert list(recent["by_person"]) == ["alice"]
    table = stats()
    assert "by person" in table and "alice" in table and "bo" in table and "3.0h" in table
