"""What a session's origin stands for on GitHub, and the threads waiting for its answer: kept in Redis by origin
key (known before the session exists), so a run that ends fast still finds where to answer."""

from redis.asyncio import Redis

from control_plane import keys
from integrations.github.models import GitHubOrigin, ThreadRef

# KEYS: replies list. Takes every waiting thread at once, so two workers never answer the same one.
_TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return items
"""


class Threads:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._take = redis.register_script(_TAKE)

    async def remember(self, origin: str, meta: GitHubOrigin) -> None:
        await self.redis.set(keys.github_thread(origin), meta.model_dump_json())

    async def origin(self, origin: str) -> GitHubOrigin | None:
        raw = await self.redis.get(keys.github_thread(origin))
        return GitHubOrigin.model_validate_json(raw) if raw else None

    async def expect_answer(self, origin: str, where: ThreadRef) -> None:
        await self.redis.rpush(keys.github_replies(origin), where.model_dump_json())

    async def forget_answer(self, origin: str, where: ThreadRef) -> None:
        await self.redis.lrem(keys.github_replies(origin), 1, where.model_dump_json())

    async def take_answers(self, origin: str) -> list[ThreadRef]:
        """The distinct threads waiting for an answer, oldest first; they are no longer waiting afterwards."""
        raw: list[str] = await self._take(keys=[keys.github_replies(origin)])
        found = [ThreadRef.model_validate_json(r) for r in raw]
        unique = {(t.repo, t.number, t.review_comment_id): t for t in reversed(found)}
        return list(reversed(unique.values()))

    async def report_issue(self, session_id: str) -> ThreadRef | None:
        """The issue a webhook-started session reports to ("owner/name#number", set when it started), if any."""
        raw: str | None = await self.redis.get(keys.github_report_issue(session_id))
        if raw is None:
            return None
        repo, number = raw.rsplit("#", 1)
        return ThreadRef(repo=repo, number=int(number))
