"""The sessions list: newest first, filtered by repo, source, person and status, a page at a time.

Why it stays fast with many sessions: repo, source and requester never change once a session exists, so
store.create indexes each value in its own sorted set (keys.by_facet), written in the same script as the
record. A filtered page reads the narrowest of those indexes, not every session. Status changes many times
per session and is written by five different scripts; indexing it would put every one of them on the hook
for keeping an index right. Instead it is checked while scanning the chosen index (one HGET per candidate,
the full record only for matches), and one page reads at most `scan_limit` candidates: past that the page
ends early with a cursor to go on from, so a rare status among many sessions costs several clicks, never
an unbounded request. The cursor is created_at, exclusive, as in store.recent.
"""

from pydantic import BaseModel
from redis.asyncio import Redis

from control_plane import keys
from control_plane.models import Session, Source
from control_plane.web.present import repo_label
from harness.events import SessionStatus


class SessionFilter(BaseModel):
    repo: str | None = None
    source: Source | None = None
    status: SessionStatus | None = None
    person: str | None = None

    def facets(self) -> dict[str, str]:
        values = {"repo": self.repo, "source": self.source, "requested_by": self.person}
        return {k: v for k, v in values.items() if v is not None}

    def matches(self, s: Session) -> bool:
        wanted = {**self.facets(), **({"status": self.status} if self.status else {})}
        have = {"repo": s.repo, "source": s.source, "requested_by": s.requested_by, "status": s.status}
        return all(have[k] == v for k, v in wanted.items())


class Page(BaseModel):
    sessions: list[Session]
    next_before: float | None
    """Cursor for the next, older page; None when there is nothing older."""
    scan_stopped: bool = False
    """The page ended because it read scan_limit candidates, not because it was full or the end was reached."""


async def find_sessions(
    redis: Redis, query: SessionFilter, *, before: float | None, limit: int, scan_limit: int
) -> Page:
    index = await _narrowest_index(redis, query)
    top = f"({before}" if before is not None else "+inf"
    found: list[Session] = []
    scanned, last_score = 0, before
    while scanned < scan_limit:
        batch = min(max(limit * 2, 100), scan_limit - scanned)
        rows = await redis.zrevrangebyscore(index, top, "-inf", start=scanned, num=batch, withscores=True)
        if not rows:
            return Page(sessions=found, next_before=None)
        for (_, score), session in zip(rows, await _candidates(redis, query, rows), strict=True):
            scanned, last_score = scanned + 1, score
            if session is not None and query.matches(session):
                found.append(session)
                if len(found) == limit:
                    return Page(sessions=found, next_before=score if await _older(redis, index, score) else None)
    assert last_score is not None
    more = await _older(redis, index, last_score)
    return Page(sessions=found, next_before=last_score if more else None, scan_stopped=more)


async def facet_counts(redis: Redis, facet: str, *, top: int = 200) -> list[tuple[str, int]]:
    """The values a facet has had, most used first (filter menus, the settings page's repos)."""
    counts = await redis.hgetall(keys.facet_values(facet))
    ranked = sorted(((value, int(n)) for value, n in counts.items()), key=lambda vn: (-vn[1], vn[0]))
    return ranked[:top]


async def resolve_repo(redis: Redis, shown: str) -> str:
    """The repository a filter link names. Links carry repo_label (a URL's credentials are never put in a page),
    so map it back to the recorded value; of several recorded values with one label, the most used."""
    for repo, _ in await facet_counts(redis, "repo", top=100_000):
        if shown in (repo, repo_label(repo)):
            return repo
    return shown


async def _narrowest_index(redis: Redis, query: SessionFilter) -> str:
    indexes = [keys.by_facet(f, v) for f, v in query.facets().items()]
    if not indexes:
        return keys.SESSIONS
    async with redis.pipeline(transaction=False) as pipe:
        for index in indexes:
            pipe.zcard(index)
        sizes = await pipe.execute()
    return min(zip(sizes, indexes, strict=True))[1]


async def _candidates(redis: Redis, query: SessionFilter, rows: list[tuple[str, float]]) -> list[Session | None]:
    """Full records for the rows that can match; a status filter is checked on one field before loading the rest."""
    ids = [session_id for session_id, _ in rows]
    if query.status is not None:
        async with redis.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hget(keys.session(session_id), "status")
            statuses = await pipe.execute()
        wanted = f'"{query.status}"'  # record fields are JSON values
        ids = [i for i, status in zip(ids, statuses, strict=True) if status == wanted]
    async with redis.pipeline(transaction=False) as pipe:
        for session_id in ids:
            pipe.hgetall(keys.session(session_id))
        records = await pipe.execute()
    loaded = {i: Session.from_redis(r) for i, r in zip(ids, records, strict=True) if r}
    return [loaded.get(session_id) for session_id, _ in rows]


async def _older(redis: Redis, index: str, score: float) -> bool:
    return bool(await redis.zcount(index, "-inf", f"({score}"))
