"""Accepted Slack events, kept in a Redis stream until handled: Slack gets its answer within its 3 seconds and the
work survives a process that dies before it is done (another process reclaims it).

Accepting is one script: remember the event id (SET NX EX) and queue the event, or do neither, so a retry of an
event already accepted — by this process or any other — is dropped, and a failed write leaves Slack free to retry.
"""

import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from control_plane import keys
from integrations.slack.events import JOB, RepoChosen, SlackMessage

log = logging.getLogger(__name__)

# KEYS: seen key, stream. ARGV: ttl seconds, job json.
_ACCEPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Delivery:
    entry_id: str
    job: SlackMessage | RepoChosen
    attempt: int
    """1 on first handling; more when taken over from a process that died or failed on it."""


class SlackInbox:
    def __init__(self, redis: Redis, *, consumer: str, reclaim_after_s: float) -> None:
        self.redis, self.consumer = redis, consumer
        self.reclaim_after_ms = int(reclaim_after_s * 1000)
        self._accept = redis.register_script(_ACCEPT)

    async def accept(self, dedupe_id: str, job: SlackMessage | RepoChosen) -> bool:
        """Queue the job unless its id was seen already; False for a duplicate."""
        args = [keys.SLACK_SEEN_TTL_S, JOB.dump_json(job).decode()]
        return bool(await self._accept(keys=[keys.slack_seen(dedupe_id), keys.SLACK_EVENTS], args=args))

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(keys.SLACK_EVENTS, keys.SLACK_GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise  # the group already existing is the only error that is fine here

    async def next(self, *, block_ms: int) -> Delivery | None:
        """A job another consumer left unfinished for too long, else a new one (waiting up to block_ms)."""
        _, claimed, _ = await self.redis.xautoclaim(
            keys.SLACK_EVENTS, keys.SLACK_GROUP, self.consumer, self.reclaim_after_ms, start_id="0-0", count=1
        )
        if claimed:
            entry_id, fields = claimed[0]
            pending = await self.redis.xpending_range(
                keys.SLACK_EVENTS, keys.SLACK_GROUP, min=entry_id, max=entry_id, count=1
            )
            return Delivery(entry_id, JOB.validate_json(fields["job"]), pending[0]["times_delivered"])
        reply = await self.redis.xreadgroup(
            keys.SLACK_GROUP, self.consumer, {keys.SLACK_EVENTS: ">"}, count=1, block=block_ms
        )
        for _, rows in reply:
            for entry_id, fields in rows:
                return Delivery(entry_id, JOB.validate_json(fields["job"]), 1)
        return None

    async def done(self, entry_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.SLACK_EVENTS, keys.SLACK_GROUP, entry_id)
            pipe.xdel(keys.SLACK_EVENTS, entry_id)
            await pipe.execute()
