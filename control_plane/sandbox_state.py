"""What the control plane remembers about sandboxes, in Redis: setup snapshots (for warm starts) and the
provider's sandbox id per session (for reconnecting after a restart)."""

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import BaseModel
from redis.asyncio import Redis

from control_plane import keys

SNAPSHOT_FORMAT = 1
"""Bump when what a setup snapshot holds changes (its layout, where the repo is): older ones are then rebuilt."""


class SnapshotRecord(BaseModel):
    """One snapshot of a repo after its setup hook ran: the version of what it contains travels with it."""

    id: str
    provider: str
    runtime: str
    """The provider's runtime when the snapshot was made (base image, layout)."""
    ref: str
    """The provider's reference: a local directory name, a Modal image id."""
    repo: str
    setup_hash: str
    base_commit: str
    created_at: float
    setup_s: float
    format: int = SNAPSHOT_FORMAT


def incompatibility(record: SnapshotRecord, provider: str, runtime: str) -> str | None:
    """Why this snapshot must not be restored here, or None when it can be."""
    if record.format != SNAPSHOT_FORMAT:
        return f"made in snapshot format {record.format}, this is format {SNAPSHOT_FORMAT}"
    if record.provider != provider:
        return f"made by the {record.provider} provider, sessions run on {provider}"
    if record.runtime != runtime:
        return f"made for runtime {record.runtime!r}, the runtime is now {runtime!r}"
    return None


def repo_hash(repo: str) -> str:
    return hashlib.sha256(repo.encode()).hexdigest()[:16]


class SnapshotIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, record: SnapshotRecord) -> None:
        await self.redis.hset(keys.SNAPSHOTS, record.id, record.model_dump_json())

    async def remove(self, record: SnapshotRecord) -> None:
        await self.redis.hdel(keys.SNAPSHOTS, record.id)

    async def all(self) -> list[SnapshotRecord]:
        """Newest first."""
        raw = await self.redis.hvals(keys.SNAPSHOTS)
        records = [SnapshotRecord.model_validate_json(value) for value in raw]
        return sorted(records, key=lambda r: r.created_at, reverse=True)

    async def for_setup(self, repo: str, setup_hash: str) -> list[SnapshotRecord]:
        """This repo's snapshots made with this setup script, newest first."""
        return [r for r in await self.all() if r.repo == repo and r.setup_hash == setup_hash]

    @asynccontextmanager
    async def build_lock(self, repo: str, setup_hash: str, *, ttl_s: float) -> AsyncIterator[None]:
        """One builder per (repo, setup script) across workers; the TTL frees it if that worker dies."""
        key = keys.snapshot_build_lock(repo_hash(repo), setup_hash)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + ttl_s
        while not await self.redis.set(key, token, nx=True, px=int(ttl_s * 1000)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {ttl_s:.0f}s for another worker's snapshot build of {repo}")
            await asyncio.sleep(0.2)
        try:
            yield
        finally:
            if await self.redis.get(key) == token:  # not ours any more once the TTL ran out
                await self.redis.delete(key)


class RedisSandboxIds:
    """The modal provider's SandboxIds store."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, session_id: str) -> str | None:
        value: str | None = await self.redis.hget(keys.SANDBOX_IDS, session_id)
        return value

    async def put(self, session_id: str, sandbox_id: str) -> None:
        await self.redis.hset(keys.SANDBOX_IDS, session_id, sandbox_id)

    async def forget(self, session_id: str) -> None:
        await self.redis.hdel(keys.SANDBOX_IDS, session_id)

    async def all(self) -> dict[str, str]:
        found: dict[str, str] = await self.redis.hgetall(keys.SANDBOX_IDS)
        return found
