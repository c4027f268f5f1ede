"""Sessions and their event logs in Redis: a hash per session, a stream per log, an index by time.

Writes that must not race (posting a message while a run is finishing) are single Lua scripts, so a
message is either seen by the running loop or reopens the session — never neither.
"""

import json
import time

from redis.asyncio import Redis

from control_plane import keys
from control_plane.errors import NotFound
from control_plane.models import Session
from harness.events import (
    EVENT,
    TERMINAL_STATUSES,
    Event,
    LoggedEvent,
    RunFinished,
    SessionStatus,
    StatusChanged,
    UserMessage,
)

# KEYS: session, events, inbox, queue, index, then per facet (keys.FACETS) its index, then its value counts, then
# the origin and the cause. ARGV: record (json object of json values), first events (json array of [kind, json]),
# prompt json, created_at, session id, then the facet values, then the origin and the cause ('' for none), the
# cause's ttl.
_CREATE = """
-- One issue, PR or thread maps to one session, so the origin is claimed here, with the record, and a session
-- already holding it is returned instead.
if ARGV[9] ~= '' then
  local holder = redis.call('GET', KEYS[12])
  if holder then return holder end
  redis.call('SET', KEYS[12], ARGV[5])
end
if ARGV[10] ~= '' then redis.call('SET', KEYS[13], '1', 'EX', ARGV[11]) end
for field, value in pairs(cjson.decode(ARGV[1])) do redis.call('HSET', KEYS[1], field, value) end
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[5])
for _, ev in ipairs(cjson.decode(ARGV[2])) do redis.call('XADD', KEYS[2], '*', 'k', ev[1], 'e', ev[2]) end
local id = redis.call('XADD', KEYS[2], '*', 'k', 'user_message', 'e', ARGV[3])
redis.call('XADD', KEYS[3], id, 'e', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'inbox_seq', 1)
redis.call('XADD', KEYS[4], '*', 'session', ARGV[5])
for i = 1, 3 do
  redis.call('ZADD', KEYS[5 + i], ARGV[4], ARGV[5])
  redis.call('HINCRBY', KEYS[8 + i], ARGV[5 + i], 1)
end
return ARGV[5]
"""

# KEYS: session, events, inbox, queue, cause. ARGV: message json, reopened-status json, session id, now, cause ('' for
# none), cause ttl. Returns {'', 0} when the cause had put its message into the session already.
_POST_MESSAGE = """
if ARGV[5] ~= '' and not redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[6]) then return {'', 0} end
local id = redis.call('XADD', KEYS[2], '*', 'k', 'user_message', 'e', ARGV[1])
redis.call('XADD', KEYS[3], id, 'e', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'inbox_seq', 1)
local status = cjson.decode(redis.call('HGET', KEYS[1], 'status'))
if status == 'finished' or status == 'failed' or status == 'cancelled' or status == 'waiting_for_input' then
  redis.call('HSET', KEYS[1], 'status', '"queued"', 'cancel_requested', 'false', 'updated_at', ARGV[4])
  redis.call('XADD', KEYS[2], '*', 'k', 'status_changed', 'e', ARGV[2])
  redis.call('XADD', KEYS[4], '*', 'session', ARGV[3])
  return {id, 1}
end
return {id, 0}
"""

# KEYS: session, events, inbox. ARGV: delivered-through id, status json, status-event json, now, summary,
# error, run-finished-event json.
_END_RUN = """
if ARGV[1] ~= '' and #redis.call('XRANGE', KEYS[3], '(' .. ARGV[1], '+', 'COUNT', 1) > 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[4], 'summary', ARGV[5], 'error', ARGV[6],
  'cancel_requested', 'false')
redis.call('XADD', KEYS[2], '*', 'k', 'run_finished', 'e', ARGV[7])
redis.call('XADD', KEYS[2], '*', 'k', 'status_changed', 'e', ARGV[3])
return 1
"""

# KEYS: session, events. ARGV: status-event json, now. Cancels a session no worker has started yet.
_CANCEL = """
local status = cjson.decode(redis.call('HGET', KEYS[1], 'status'))
if status == 'queued' or status == 'waiting_for_input' then
  redis.call('HSET', KEYS[1], 'status', '"cancelled"', 'updated_at', ARGV[2])
  redis.call('XADD', KEYS[2], '*', 'k', 'status_changed', 'e', ARGV[1])
  return 'cancelled'
end
if status == 'running' then
  redis.call('HSET', KEYS[1], 'cancel_requested', 'true')
  return 'requested'
end
return status
"""


class SessionStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._create = redis.register_script(_CREATE)
        self._post_message = redis.register_script(_POST_MESSAGE)
        self._end_run = redis.register_script(_END_RUN)
        self._cancel = redis.register_script(_CANCEL)

    async def create(self, session: Session, first: list[Event], prompt: UserMessage, cause: str | None = None) -> str:
        """Record, index, first events, prompt in the inbox and the job: all or nothing. Returns the id of the
        session holding session.origin: session.id, or another one's (and then nothing was written). `cause`: what
        the prompt came from (see post_message), so that a retry of it does not post it again as a follow-up."""
        sid = session.id
        facets = {"repo": session.repo, "source": session.source, "requested_by": session.requested_by}
        assert tuple(facets) == keys.FACETS
        holder: str = await self._create(
            keys=[
                keys.session(sid),
                keys.events(sid),
                keys.inbox(sid),
                keys.QUEUE,
                keys.SESSIONS,
                *[keys.by_facet(f, v) for f, v in facets.items()],
                *[keys.facet_values(f) for f in facets],
                keys.origin(session.origin or ""),
                keys.message_cause(sid, cause or ""),
            ],
            args=[
                json.dumps(session.to_redis()),
                json.dumps([[e.kind, _json(e)] for e in first]),
                prompt.model_dump_json(),
                session.created_at,
                sid,
                *facets.values(),
                session.origin or "",
                cause or "",
                keys.CAUSE_TTL_S,
            ],
        )
        return holder

    async def get(self, session_id: str) -> Session:
        fields = await self.redis.hgetall(keys.session(session_id))
        if not fields:
            raise NotFound(f"no session {session_id!r}")
        # The id is the key's: a record edited behind our back cannot claim another session's id (push_policy.py).
        return Session.from_redis({**fields, "id": json.dumps(session_id)})

    async def exists(self, session_id: str) -> bool:
        return bool(await self.redis.exists(keys.session(session_id)))

    async def by_origin(self, origin: str) -> str | None:
        """The id of the session an origin (issue, PR, thread) maps to, if it has one."""
        session_id: str | None = await self.redis.get(keys.origin(origin))
        return session_id

    async def claim_origin(self, origin: str, session_id: str) -> str:
        """Map one more origin to a session (the PR a session opened), unless it has one; returns its holder."""
        if await self.redis.set(keys.origin(origin), session_id, nx=True):
            return session_id
        holder: str = await self.redis.get(keys.origin(origin))
        return holder

    async def recent(self, *, limit: int = 50, before: float | None = None) -> list[Session]:
        top = f"({before}" if before is not None else "+inf"
        ids = await self.redis.zrevrangebyscore(keys.SESSIONS, top, "-inf", start=0, num=limit)
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hgetall(keys.session(session_id))
            rows = await pipe.execute()
        return [Session.from_redis(r) for r in rows if r]

    async def append(self, session_id: str, event: Event) -> str:
        event_id: str = await self.redis.xadd(keys.events(session_id), _fields(event))
        return event_id

    async def events(self, session_id: str, *, after: str | None = None, count: int | None = None) -> list[LoggedEvent]:
        start = f"({after}" if after else "-"
        rows = await self.redis.xrange(keys.events(session_id), min=start, max="+", count=count)
        return [_logged(event_id, fields) for event_id, fields in rows]

    async def wait_events(self, session_id: str, *, after: str, block_ms: int) -> list[LoggedEvent]:
        """Events after `after`, waiting up to block_ms for the first one (live following)."""
        reply = await self.redis.xread({keys.events(session_id): after}, block=block_ms, count=500)
        return [_logged(event_id, fields) for _, rows in reply for event_id, fields in rows]

    async def inbox(self, session_id: str, *, after: str | None) -> list[tuple[str, UserMessage]]:
        start = f"({after}" if after else "-"
        rows = await self.redis.xrange(keys.inbox(session_id), min=start, max="+")
        return [(event_id, UserMessage.model_validate_json(fields["e"])) for event_id, fields in rows]

    async def post_message(
        self, session_id: str, message: UserMessage, cause: str | None = None
    ) -> tuple[str | None, bool]:
        """Log a person's message; reopen (and queue) the session if it had ended. Returns (id, reopened).

        `cause` names what the message came from (a GitHub comment, a Slack event...): a message with a cause is
        appended once, in the same script that remembers the cause, so a retried delivery appends nothing, reopens
        nothing and gets (None, False)."""
        if not await self.exists(session_id):
            raise NotFound(f"no session {session_id!r}")
        reopened = StatusChanged(status="queued", reason=f"new message from {message.author}")
        event_id, was_reopened = await self._post_message(
            keys=[
                keys.session(session_id),
                keys.events(session_id),
                keys.inbox(session_id),
                keys.QUEUE,
                keys.message_cause(session_id, cause or ""),
            ],
            args=[message.model_dump_json(), _json(reopened), session_id, time.time(), cause or "", keys.CAUSE_TTL_S],
        )
        return event_id or None, bool(was_reopened)

    async def set_status(self, session_id: str, status: SessionStatus, reason: str = "", **fields: object) -> None:
        values = {"status": status, "updated_at": time.time(), **fields}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.session(session_id), mapping={k: json.dumps(v) for k, v in values.items()})
            pipe.xadd(keys.events(session_id), _fields(StatusChanged(status=status, reason=reason)))
            await pipe.execute()

    async def update(self, session_id: str, **fields: object) -> None:
        mapping = {k: json.dumps(v) for k, v in {**fields, "updated_at": time.time()}.items()}
        await self.redis.hset(keys.session(session_id), mapping=mapping)

    async def add_usage(self, session_id: str, *, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            key = keys.session(session_id)
            pipe.hincrby(key, "steps", 1)
            pipe.hincrby(key, "input_tokens", input_tokens)
            pipe.hincrby(key, "output_tokens", output_tokens)
            pipe.hincrbyfloat(key, "cost_usd", cost_usd)
            await pipe.execute()

    async def end_run(
        self, session_id: str, status: SessionStatus, finished: RunFinished, *, delivered_through: str | None
    ) -> bool:
        """Mark the run ended unless a message arrived it has not seen; False means: keep going."""
        assert status in TERMINAL_STATUSES or status == "waiting_for_input"  # waiting: for its sub-sessions
        error = "" if finished.outcome in ("finished", "waiting") else finished.summary
        event = StatusChanged(status=status, reason=finished.summary[:300])
        ended = await self._end_run(
            keys=[keys.session(session_id), keys.events(session_id), keys.inbox(session_id)],
            args=[
                delivered_through or "",
                json.dumps(status),
                _json(event),
                time.time(),
                json.dumps(finished.summary),
                json.dumps(error),
                _json(finished),
            ],
        )
        return bool(ended)

    async def request_cancel(self, session_id: str) -> str:
        """'cancelled' (was queued, or waiting with no run going on), 'requested' (the worker stops it), or the
        status it already had. The session's sub-sessions are cancelled with it."""
        if not await self.exists(session_id):
            raise NotFound(f"no session {session_id!r}")
        event = StatusChanged(status="cancelled", reason="cancelled while no run was going on")
        result: str = await self._cancel(
            keys=[keys.session(session_id), keys.events(session_id)], args=[_json(event), time.time()]
        )
        for child_id in await self.redis.zrange(keys.children(session_id), 0, -1):
            await self.request_cancel(child_id)
        return result


def _json(event: Event) -> str:
    return EVENT.dump_json(event).decode()


def _fields(event: Event) -> dict[str, str]:
    return {"k": event.kind, "e": _json(event)}


def _logged(event_id: str, fields: dict[str, str]) -> LoggedEvent:
    return LoggedEvent(id=event_id, event=EVENT.validate_json(fields["e"]))
