"""The run's end in the thread: the status message shows the outcome and one final message gives the summary,
where the work is (the pull request, else the branch) and the cost. Implements control_plane's RunObserver."""

from control_plane.models import Session
from control_plane.store import SessionStore
from harness.events import RunOutcome
from integrations.slack import format
from integrations.slack.config import SlackConfig
from integrations.slack.threads import Poster, Threads


class SlackRunObserver:
    def __init__(self, config: SlackConfig, store: SessionStore, threads: Threads, poster: Poster) -> None:
        self.config, self.store, self.threads, self.poster = config, store, threads, poster

    async def run_ended(self, session: Session, outcome: RunOutcome) -> None:
        thread = await self.threads.get(session.id)
        if thread is None:
            return  # not a Slack session
        # Read again: an observer called before this one (the GitHub integration) may have opened the PR.
        session = await self.store.get(session.id)
        url = self.config.session_url(session.id)
        status = format.status_text(session, url)
        if thread.status_ts is not None:
            await self.poster.update(thread.channel, thread.status_ts, status)
        await self.threads.save(thread.model_copy(update={"shown": status}), active=False)
        await self.poster.post(thread.channel, thread.thread_ts, format.final_text(session, url))
