import time

import pytest
from redis.asyncio import Redis

from control_plane import keys
from control_plane.errors import NotFound
from control_plane.models import Session
from control_plane.store import SessionStore
from harness.events import Note, RunFinished, SessionCreated, UserMessage


def new_session(session_id: str = "s1", created_at: float | None = None) -> Session:
    now = created_at or time.time()
    return Session(
        id=session_id,
        repo="/r",
        base=None,
        branch="nightshift/x",
        title="t",
        source="cli",
        requested_by="ana",
        status="queued",
        created_at=now,
        updated_at=now,
    )


async def create(store: SessionStore, session_id: str = "s1", created_at: float | None = None) -> None:
    created = SessionCreated(repo="/r", base=None, branch="b", source="cli", requested_by="ana")
    await store.create(new_session(session_id, created_at), [created], UserMessage(text="do it", author="ana"))


async def test_create_writes_record_log_inbox_and_job(redis: Redis) -> None:
    store = SessionStore(redis)
    await create(store)
    session = await store.get("s1")
    assert (session.status, session.inbox_seq) == ("queued", 1)
    kinds = [e.event.kind for e in await store.events("s1")]
    assert kinds == ["session_created", "user_message"]
    inbox = await store.inbox("s1", after=None)
    assert [m.text for _, m in inbox] == ["do it"]
    assert inbox[0][0] == (await store.events("s1"))[1].id  # same id in the inbox and the log
    assert await redis.xlen(keys.QUEUE) == 1


async def test_message_to_running_session_only_goes_to_inbox(redis: Redis) -> None:
    store = SessionStore(redis)
    await create(store)
    await store.set_status("s1", "running")
    _, reopened = await store.post_message("s1", UserMessage(text="more", author="bo"))
    assert not reopened
    assert (await store.get("s1")).status == "running"
    assert await redis.xlen(keys.QUEUE) == 1


async def test_message_to_finished_session_reopens_and_queues(redis: Redis) -> None:
    store = SessionStore(redis)
    await create(store)
    await store.set_status("s1", "finished")
    _, reopened = await store.post_message("s1", UserMessage(text="again", author="bo"))
    assert reopened
    assert (await store.get("s1")).status == "queued"
    assert await redis.xlen(keys.QUEUE) == 2


async def test_end_run_refuses_while_a_message_is_undelivered(redis: Redis) -> None:
    store = SessionStore(redis)
    await create(store)
    first = (await store.inbox("s1", after=None))[0][0]
    late, _ = await store.post_message("s1", UserMessage(text="wait", author="bo"))
    done = RunFinished(outcome="finished", summary="did it")
    assert not await store.end_run("s1", "finished", done, delivered_through=first)
    assert (await store.get("s1")).status == "queued"
    assert await store.end_run("s1", "finished", done, delivered_through=late)
    session = await store.get("s1")
    assert (session.status, session.summary, session.error) == ("finished", "did it", "")
    assert [e.event.kind for e in await store.events("s1")][-2:] == ["run_finished", "status_changed"]


async def test_cancel_queued_is_immediate_running_is_requested(redis: Redis) -> None:
    store = SessionStore(redis)
    await create(store, "q")
    await create(store, "r")
    await store.set_status("r", "running")
    assert await store.request_cancel("q") == "cancelled"
    assert (await store.get("q")).status == "cancelled"
    assert await store.request_cancel("r") == "requested"
    assert (await store.get("r")).cancel_requested
    with pytest.raises(NotFound):
        await store.request_cancel("nope")


async def test_list_newest_first_and_pages(redis: Redis) -> None:
    store = SessionStore(redis)
    for i in range(5):
        await create(store, f"s{i}", created_at=1000.0 + i)
    assert [s.id for s in await store.recent(limit=2)] == ["s4", "s3"]
    assert [s.id for s in await store.recent(limit=10, before=1002.0)] == ["s1", "s0"]


async def test_events_after_cursor_and_wait(redis: Redis) -> None:
    store = SessionStore(redis)
    await create(store)
    cursor = (await store.events("s1"))[-1].id
    assert await store.events("s1", after=cursor) == []
    assert await store.wait_events("s1", after=cursor, block_ms=50) == []
    await store.append("s1", Note(text="hello"))
    [item] = await store.wait_events("s1", after=cursor, block_ms=1000)
    assert item.event == Note(text="hello", at=item.event.at)


async def test_usage_totals(redis: Redis) -> None:
    store = SessionStore(redis)
    await create(store)
    await store.add_usage("s1", input_tokens=10, output_tokens=5, cost_usd=0.25)
    await store.add_usage("s1", input_tokens=1, output_tokens=1, cost_usd=0.5)
    s = await store.get("s1")
    assert (s.steps, s.input_tokens, s.output_tokens, s.cost_usd) == (2, 11, 6, 0.75)
