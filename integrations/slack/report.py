"""Reports of sessions started by automations (Sentry, generic hooks): when such a session's run ends, its summary
goes to the channel the starting integration recorded, as a new thread; that thread becomes one of the session's
origins, so a reply in it is a follow-up. Later runs answer in the same thread. Also tells the channel when an
automation pauses itself. Implements control_plane's RunObserver and PauseNotifier."""

from redis.asyncio import Redis

from control_plane import keys
from control_plane.automations import Automation
from control_plane.models import Session
from control_plane.store import SessionStore
from harness.events import RunOutcome
from integrations.slack.config import SlackConfig
from integrations.slack.events import origin_of
from integrations.slack.format import escape, final_text
from integrations.slack.threads import Poster, Threads


class ChannelReporter:
    def __init__(
        self, config: SlackConfig, redis: Redis, store: SessionStore, threads: Threads, poster: Poster
    ) -> None:
        self.config, self.redis, self.store, self.threads, self.poster = config, redis, store, threads, poster

    async def run_ended(self, session: Session, outcome: RunOutcome) -> None:
        if outcome == "waiting":
            return  # waiting on its sub-sessions: the report comes when the run really ends
        channel: str | None = await self.redis.get(keys.slack_report_channel(session.id))
        if channel is None or await self.threads.get(session.id) is not None:
            return  # not reported to a channel, or followed up in Slack: the thread observer answers there
        # Read again: the GitHub publisher, called before this observer, may have opened the PR.
        session = await self.store.get(session.id)
        text = final_text(session, self.config.session_url(session.id))
        thread_ts: str | None = await self.redis.get(keys.slack_report_thread(session.id))
        if thread_ts is not None:
            await self.poster.post(channel, thread_ts, text)
            return
        head = f"Report for {session.origin_url}\n" if session.origin_url else ""
        thread_ts = await self.poster.start_thread(channel, head + text)
        await self.redis.set(keys.slack_report_thread(session.id), thread_ts)
        await self.store.claim_origin(origin_of(await self.poster.team(), channel, thread_ts), session.id)

    async def automation_paused(self, automation: Automation, reason: str) -> None:
        if automation.slack_channel is None:
            return  # nowhere to say it: the automation's state (nightshift automations list) shows it
        text = (
            f":double_vertical_bar: Automation `{escape(automation.id)}` paused itself: {escape(reason)}\n"
            f"Resume it with `nightshift automations resume {escape(automation.id)}` once the cause is fixed."
        )
        await self.poster.start_thread(automation.slack_channel, text)
