"""The triage report: when a triage session's run ends, its summary is posted to the project's Slack channel as a
new thread. Implements control_plane's RunObserver."""

from redis.asyncio import Redis

from control_plane import keys
from control_plane.models import Session
from control_plane.store import SessionStore
from harness.events import RunOutcome
from integrations.slack.format import final_text
from integrations.slack.threads import Poster


class TriageReporter:
    def __init__(self, redis: Redis, store: SessionStore, poster: Poster, *, public_url: str) -> None:
        self.redis, self.store, self.poster, self.public_url = redis, store, poster, public_url.rstrip("/")

    async def run_ended(self, session: Session, outcome: RunOutcome) -> None:
        if outcome == "waiting":
            return  # waiting on its sub-sessions: the report comes when the run really ends
        channel: str | None = await self.redis.get(keys.sentry_report(session.id))
        if channel is None:
            return  # not a triage session, or its project reports nowhere
        # Read again: the GitHub publisher, called before this observer, may have opened the PR.
        session = await self.store.get(session.id)
        text = final_text(session, f"{self.public_url}/sessions/{session.id}")
        await self.poster.start_thread(channel, f"Sentry triage for {session.origin_url}\n{text}")
