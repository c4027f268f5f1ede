"""What the dashboard needs to know from a session's log (first push, time spent running), folded once and kept
next to the log.

`fold` is pure: state in, event in, state out. The digest is stored with the log id it is complete up to, as
one value, so a concurrent writer can only ever store a digest that agrees with its own cursor; the next
dashboard load reads only the events after that cursor. A finished session costs one empty read.
"""

from collections.abc import Sequence

from pydantic import BaseModel
from redis.asyncio import Redis

from control_plane import keys
from harness.events import EVENT, BranchPushed, LoggedEvent, RunFinished, RunStarted


class SessionFacts(BaseModel):
    cursor: str = "0-0"
    """Id of the last event folded in."""
    first_push_at: float | None = None
    """When the work was first pushed as a branch (not a checkpoint): the first result people can look at."""
    active_s: float = 0.0
    """Time spent in runs (run started to run finished), summed over the session's runs."""
    run_started_at: float | None = None
    """Start of the run in progress, if one is."""


def fold(facts: SessionFacts, item: LoggedEvent) -> SessionFacts:
    event = item.event
    update: dict[str, object] = {"cursor": item.id}
    if isinstance(event, BranchPushed) and not event.checkpoint and facts.first_push_at is None:
        update["first_push_at"] = event.at
    if isinstance(event, RunStarted) and facts.run_started_at is None:
        update["run_started_at"] = event.at  # a resumed run continues the open one
    if isinstance(event, RunFinished) and facts.run_started_at is not None:
        update["active_s"] = facts.active_s + max(0.0, event.at - facts.run_started_at)
        update["run_started_at"] = None
    return facts.model_copy(update=update)


async def facts_for(redis: Redis, session_ids: Sequence[str]) -> dict[str, SessionFacts]:
    """Every session's digest, brought up to date with its log: one round trip to read, one to catch up."""
    async with redis.pipeline(transaction=False) as pipe:
        for session_id in session_ids:
            pipe.get(keys.session_facts(session_id))
        cached = await pipe.execute()
    known = {
        i: SessionFacts.model_validate_json(c) if c else SessionFacts()
        for i, c in zip(session_ids, cached, strict=True)
    }
    async with redis.pipeline(transaction=False) as pipe:
        for session_id, facts in known.items():
            pipe.xrange(keys.events(session_id), min=f"({facts.cursor}", max="+")
        logs = await pipe.execute()
    changed: dict[str, SessionFacts] = {}
    for (session_id, facts), rows in zip(known.items(), logs, strict=True):
        for event_id, fields in rows:
            facts = fold(facts, LoggedEvent(id=event_id, event=EVENT.validate_json(fields["e"])))
        if rows:
            changed[session_id] = known[session_id] = facts
    if changed:
        await redis.mset({keys.session_facts(i): f.model_dump_json() for i, f in changed.items()})
    return known
