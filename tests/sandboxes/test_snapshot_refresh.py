"""Snapshots follow the default branch in the background; a requested repo is refreshed at the next poll."""

from pathlib import Path

from redis.asyncio import Redis
from test_warm_start import commit_file, starts_for

from control_plane.snapshot_refresh import SnapshotRefresher


async def test_a_moved_default_branch_gets_a_new_snapshot(tmp_path: Path, redis: Redis, remote: Path) -> None:
    first = commit_file(remote, tmp_path / "work", {".nightshift/setup.sh": "echo ok > .ready"}, "setup")
    starts = await starts_for(tmp_path, redis)
    refresher = SnapshotRefresher(starts, redis, interval_s=60, me="w1")
    assert await refresher.refresh(await refresher.due(0)) == {}  # no snapshot yet: nothing to keep warm
    await refresher.request(str(remote))
    [(repo, made)] = (await refresher.refresh(await refresher.due(0))).items()
    assert repo == str(remote) and made.endswith(first[:12])

    second = commit_file(remote, tmp_path / "work", {"app.py": "x = 1\n"}, "work on main")
    other = SnapshotRefresher(starts, redis, interval_s=60, me="w2")
    assert await other.due(0) == []  # this interval's round belongs to w1's lease
    await redis.delete("ns:snapshot-refresh:lease")  # the interval has passed
    outcome = await other.refresh(await other.due(0))
    assert outcome[str(remote)].endswith(second[:12])
    assert sorted(r.base_commit for r in await starts.index.all()) == sorted([first, second])


async def test_a_broken_repo_is_reported_and_does_not_stop_the_round(tmp_path: Path, redis: Redis) -> None:
    starts = await starts_for(tmp_path, redis)
    refresher = SnapshotRefresher(starts, redis, interval_s=60, me="w1")
    await refresher.request("/no/such/repo")
    outcome = await refresher.refresh(await refresher.due(0))
    assert outcome["/no/such/repo"].startswith("failed: git clone failed")
