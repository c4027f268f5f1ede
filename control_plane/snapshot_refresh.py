"""Keeping warm starts warm: snapshots are rebuilt in the background when a repository's default branch moves,
so the next session restores a snapshot close to its commit instead of fast-forwarding far or starting cold.

Every interval one process (a Redis lease) asks `SandboxStarts.prepare` for the default-branch head of every repo
that has snapshots; prepare builds only what does not exist yet. `request` asks for a repo now (a push webhook).
"""

import asyncio
import contextlib
import logging
import time

from redis.asyncio import Redis

from control_plane import keys
from control_plane.warm_start import SandboxStarts
from harness.errors import NightshiftError
from harness.events import Event

log = logging.getLogger(__name__)


async def _log(event: Event) -> None:
    log.info("snapshot refresh: %s", event.model_dump_json())


async def request_refresh(redis: Redis, repo: str) -> None:
    """Ask for the repo's snapshot to be refreshed at the next poll of any worker (e.g. on a push webhook)."""
    await redis.sadd(keys.SNAPSHOT_REFRESH_REQUESTS, repo)


class SnapshotRefresher:
    def __init__(self, starts: SandboxStarts, redis: Redis, *, interval_s: float, me: str) -> None:
        self.starts, self.redis, self.interval_s, self.me = starts, redis, interval_s, me

    async def request(self, repo: str) -> None:
        await request_refresh(self.redis, repo)

    async def due(self, now: float) -> list[str]:
        """Repos to refresh this round: all with snapshots when the round is due, plus any requested."""
        requested = await self.redis.spop(keys.SNAPSHOT_REFRESH_REQUESTS, 1000)
        repos = set(requested or [])
        lease_ms = max(int(self.interval_s * 1000), 1)
        if await self.redis.set(keys.SNAPSHOT_REFRESH_LEASE, self.me, nx=True, px=lease_ms):
            repos |= {record.repo for record in await self.starts.index.all()}
        return sorted(repos)

    async def refresh(self, repos: list[str]) -> dict[str, str]:
        """repo → what happened. One repo failing (unreachable, setup broken) does not stop the others."""
        outcome: dict[str, str] = {}
        for repo in repos:
            started = time.monotonic()
            try:
                record = await self.starts.prepare(repo, None, _log)
            except NightshiftError as e:
                log.warning("snapshot refresh of %s failed: %s", repo, e)
                outcome[repo] = f"failed: {e}"
                continue
            took = time.monotonic() - started
            outcome[repo] = f"snapshot {record.id} at {record.base_commit[:12]}" if record else "setup failed"
            log.info("snapshot refresh of %s: %s (%.1fs)", repo, outcome[repo], took)
        return outcome

    async def run(self, stopping: asyncio.Event, poll_s: float = 5.0) -> None:
        """Until `stopping` is set; checks for requests every poll_s, for the periodic round as its lease allows."""
        while not stopping.is_set():
            await self.refresh(await self.due(time.time()))
            with contextlib.suppress(TimeoutError):  # the pause between rounds still ends at shutdown
                await asyncio.wait_for(stopping.wait(), poll_s)
