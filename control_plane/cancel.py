"""Stopping a session, for every entry point (API, web UI, Slack, CLI)."""

from control_plane.children import ChildWaker
from control_plane.store import SessionStore


async def cancel_session(store: SessionStore, session_id: str) -> str:
    """'cancelled' (it was queued), 'requested' (its worker stops it), or the status it already had.

    A child cancelled before it ever ran ends no run, so no observer would tell its waiting parent: do it here."""
    result = await store.request_cancel(session_id)
    if result == "cancelled":
        session = await store.get(session_id)
        if session.parent_id is not None:
            await ChildWaker(store).wake_if_done(session.parent_id)
    return result
