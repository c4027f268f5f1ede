from pathlib import Path

from control_plane.cancel import cancel_session
from control_plane.children import ChildIndex
from control_plane.models import NewSession
from control_plane.runtime import Runtime
from control_plane.sessions import create_session


async def test_cancelling_a_queued_child_wakes_its_waiting_parent(rt: Runtime, remote: Path) -> None:
    def ask(prompt: str) -> NewSession:
        return NewSession(repo=str(remote), prompt=prompt, requested_by="ana")

    parent = await create_session(rt.store, ask("parent"), max_prompt_bytes=10_000)
    await rt.store.set_status(parent.id, "waiting_for_input")
    child = await create_session(rt.store, ask("child"), max_prompt_bytes=10_000, parent_id=parent.id)
    await ChildIndex(rt.store).add(parent.id, child)

    assert await cancel_session(rt.store, child.id) == "cancelled"

    woken = await rt.store.get(parent.id)
    assert woken.status == "queued"  # a message from nightshift reopened it: it is no longer stuck waiting
    [(_, message)] = (await rt.store.inbox(parent.id, after=None))[1:]
    assert message.author == "nightshift"
    assert await cancel_session(rt.store, parent.id) == "cancelled"
