"""Every Redis key Nightshift reads or writes, in one place."""

PREFIX = "ns:"
QUEUE = PREFIX + "queue"
"""Stream of jobs ({session: id}); workers read it through the consumer group below."""
QUEUE_GROUP = "workers"
SESSIONS = PREFIX + "sessions"
"""Sorted set of session ids by creation time, newest last."""


def session(session_id: str) -> str:
    """Hash: the session record, one JSON value per field."""
    return f"{PREFIX}session:{session_id}"


def events(session_id: str) -> str:
    """Stream: the session's append-only event log."""
    return f"{PREFIX}events:{session_id}"


def inbox(session_id: str) -> str:
    """Stream: people's messages, with the same ids as in the event log, so the loop reads only these."""
    return f"{PREFIX}inbox:{session_id}"


def lease(session_id: str) -> str:
    """String: the worker running the session; expires unless that worker keeps renewing it."""
    return f"{PREFIX}lease:{session_id}"
