"""Reports of sessions started by alerts and webhooks (Sentry, generic hooks): when such a session's run ends, its
summary goes to the channel the starting integration recorded, as a new thread. Implements control_plane's
RunObserver; sessions without a recorded channel are not its business."""

from redis.asyncio import Redis

from control_plane import keys
from control_plane.models import Session
from control_plane.store import SessionStore
from harness.events import RunOutcome
from integrations.slack.config import SlackConfig
from integrations.slack.format import final_text
from integrations.slack.threads import Poster


class ChannelReporter:
    def __init__(self, config: SlackConfig, redis: Redis, store: SessionStore, poster: Poster) -> None:
        self.config, self.redis, self.store, self.poster = config, redis, store, poster

    async def run_ended(self, session: Session, outcome: RunOutcome) -> None:
        if outcome == "waiting":
            return  # waiting on its sub-sessions: the report comes when the run really ends
        channel: str | None = await self.redis.get(keys.slack_report_channel(session.id))
        if channel is None:
            return
        # Read again: the GitHub publisher, called before this observer, may have opened the PR.
        session = await self.store.get(session.id)
        text = final_text(session, self.config.session_url(session.id))
        head = f"Report for {session.origin_url}\n" if session.origin_url else ""
        await self.poster.start_thread(channel, head + text)
