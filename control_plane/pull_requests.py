"""Pull requests Nightshift opened and what became of them (merged, closed, reopened, reviewed, commented on), for
`nightshift stats` and GET /api/stats. Integrations record into it; nothing here knows which forge it is."""

import json
from typing import Literal

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from control_plane import keys
from control_plane.models import Source

PrState = Literal["open", "merged", "closed"]
PrAction = Literal["opened", "merged", "closed", "reopened", "reviewed", "commented"]
_EVENTS_MAXLEN = 100_000


class PullRequestRecord(BaseModel):
    key: str
    """"owner/name#12": unique across repositories."""
    repo: str
    number: int
    url: str
    session_id: str
    source: Source
    """Where the session that opened it came from (github, slack, web...)."""
    requested_by: str
    opened_at: float
    state: PrState = "open"
    merged_at: float | None = None
    closed_at: float | None = None
    comments: int = 0
    """Comments people left (conversation and inline), counted by id."""
    reviews: int = 0


class PrLifecycleEvent(BaseModel):
    key: str
    action: PrAction
    at: float
    actor: str = ""


class PullRequestStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def opened(self, record: PullRequestRecord) -> bool:
        """Record a pull request Nightshift just opened; False if it was already recorded."""
        fields = {k: json.dumps(v) for k, v in record.model_dump(exclude={"comments", "reviews"}).items()}
        if not await self.redis.hsetnx(keys.pull_request(record.key), "key", fields["key"]):
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.pull_request(record.key), mapping=fields)
            pipe.zadd(keys.PULL_REQUESTS, {record.key: record.opened_at})
            _log(pipe, PrLifecycleEvent(key=record.key, action="opened", at=record.opened_at))
            await pipe.execute()
        return True

    async def get(self, key: str) -> PullRequestRecord | None:
        [record] = await self._read([key])
        return record

    async def closed(self, key: str, *, merged: bool, at: float, actor: str = "") -> bool:
        """False (and nothing recorded) when the pull request is not one Nightshift opened."""
        state: PrState = "merged" if merged else "closed"
        changes = {"state": state, "closed_at": at, "merged_at": at if merged else None}
        return await self._change(key, changes, PrLifecycleEvent(key=key, action=state, at=at, actor=actor))

    async def reopened(self, key: str, *, at: float, actor: str = "") -> bool:
        changes = {"state": "open", "closed_at": None, "merged_at": None}
        return await self._change(key, changes, PrLifecycleEvent(key=key, action="reopened", at=at, actor=actor))

    async def commented(self, key: str, comment_id: str, *, at: float, actor: str) -> bool:
        """Count a comment once however often its delivery comes; False when the PR is not Nightshift's."""
        event = PrLifecycleEvent(key=key, action="commented", at=at, actor=actor)
        return await self._count(key, keys.pr_comments(key), comment_id, event)

    async def reviewed(self, key: str, review_id: str, *, at: float, actor: str) -> bool:
        event = PrLifecycleEvent(key=key, action="reviewed", at=at, actor=actor)
        return await self._count(key, keys.pr_reviews(key), review_id, event)

    async def all(self, *, since: float | None = None) -> list[PullRequestRecord]:
        """Pull requests opened since `since` (all by default), oldest first."""
        low = "-inf" if since is None else since
        found: list[str] = await self.redis.zrangebyscore(keys.PULL_REQUESTS, low, "+inf")
        return [r for r in await self._read(found) if r is not None]

    async def _read(self, found: list[str]) -> list[PullRequestRecord | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in found:
                pipe.hgetall(keys.pull_request(key))
                pipe.scard(keys.pr_comments(key))
                pipe.scard(keys.pr_reviews(key))
            rows = await pipe.execute()
        records: list[PullRequestRecord | None] = []
        for fields, comments, reviews in zip(rows[::3], rows[1::3], rows[2::3], strict=True):
            values = {k: json.loads(v) for k, v in fields.items()}
            records.append(PullRequestRecord(**values, comments=comments, reviews=reviews) if fields else None)
        return records

    async def _change(self, key: str, changes: dict[str, object], event: PrLifecycleEvent) -> bool:
        if not await self.redis.exists(keys.pull_request(key)):
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.pull_request(key), mapping={k: json.dumps(v) for k, v in changes.items()})
            _log(pipe, event)
            await pipe.execute()
        return True

    async def _count(self, key: str, counter: str, item_id: str, event: PrLifecycleEvent) -> bool:
        if not await self.redis.exists(keys.pull_request(key)):
            return False
        if await self.redis.sadd(counter, item_id):
            async with self.redis.pipeline(transaction=False) as pipe:
                _log(pipe, event)
                await pipe.execute()
        return True


def _log(pipe: Pipeline, event: PrLifecycleEvent) -> None:
    pipe.xadd(keys.PR_EVENTS, {"e": event.model_dump_json()}, maxlen=_EVENTS_MAXLEN, approximate=True)
