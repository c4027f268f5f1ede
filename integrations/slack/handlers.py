"""What the bot does with an accepted Slack event: start a session, hand a follow-up to one, stop one, or ask
which repository a request is for. Runs from the inbox, after Slack has had its answer."""

import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from control_plane import keys
from control_plane.cancel import cancel_session
from control_plane.errors import BadRequest, OriginTaken
from control_plane.git import GitCredentials
from control_plane.models import NewMessage, NewSession
from control_plane.sessions import create_session, post_message
from control_plane.store import SessionStore
from integrations.slack import format
from integrations.slack.config import SlackConfig
from integrations.slack.events import RepoChosen, SlackMessage, origin_of
from integrations.slack.task import is_stop, parse_task, repo_location
from integrations.slack.threads import PendingRequest, Poster, SlackError, SlackThread, Threads

log = logging.getLogger(__name__)


@dataclass
class SlackHandler:
    config: SlackConfig
    redis: Redis
    store: SessionStore
    threads: Threads
    poster: Poster
    credentials: GitCredentials | None = None

    async def handle(self, job: SlackMessage | RepoChosen) -> None:
        if self.config.allowed_users and job.user not in self.config.allowed_users:
            if isinstance(job, RepoChosen) or job.addressed:  # refuse once, not for every chat line in a thread
                await self.poster.post(job.channel, _thread(job), format.refusal_text(job.user))
            return
        if isinstance(job, RepoChosen):
            await self._repo_chosen(job)
            return
        session_id = await self.store.by_origin(job.origin)
        if session_id is not None:
            await self._follow_up(session_id, job)
        elif job.addressed:
            await self._new_request(job)
        # else: people talking in a thread that has no session; none of our business

    async def _follow_up(self, session_id: str, m: SlackMessage) -> None:
        if is_stop(m.text):
            result = await cancel_session(self.store, session_id)
            log.info("slack: %s asked to stop session %s: %s", m.user, session_id, result)
            return  # the run's end (the observer) answers in the thread
        text = parse_task(m.text).text or m.text
        reopened = await post_message(
            self.store,
            session_id,
            NewMessage(text=text, author=self.config.requester(m.user)),
            max_prompt_bytes=self.config.max_prompt_bytes,
            cause=m.cause,
        )
        if reopened:  # a new run: it gets its own status message, below the last run's final one
            await self._post_status(session_id, m.team, m.channel, m.thread)

    async def _new_request(self, m: SlackMessage) -> None:
        task = parse_task(m.text)
        if not task.text:
            await self.poster.post(m.channel, m.thread, "What should I do? Mention me with a task.")
            return
        context = await self._context(m) if m.thread_ts else ""
        repo = task.repo or self.config.channel_repos.get(m.channel)
        if repo is None:
            await self.threads.park(m.origin, PendingRequest(user=m.user, task=task.text, context=context))
            blocks = format.ask_repo_blocks(await self._likely_repos(), task.text)
            await self.poster.post(m.channel, m.thread, "Which repository is this for?", blocks)
            return
        await self._start(m.team, m.channel, m.thread, m.user, repo, task.text, context, cause=m.cause)

    async def _repo_chosen(self, c: RepoChosen) -> None:
        pending = await self.threads.unpark(c.origin)
        if pending is None:
            return  # answered already (a second click), or the question expired
        try:  # cosmetic: failing the job here would lose the request, unparked already
            await self.poster.update(c.channel, c.question_ts, f"<@{c.user}> picked `{format.escape(c.repo)}`.")
        except SlackError as e:
            log.warning("slack: could not mark the repository question answered: %s", e)
        await self._start(c.team, c.channel, c.thread_ts, pending.user, c.repo, pending.task, pending.context)

    async def _start(
        self,
        team: str,
        channel: str,
        thread_ts: str,
        user: str,
        repo: str,
        task: str,
        context: str,
        cause: str | None = None,
    ) -> None:
        prompt = f"{context}\n\nThe request, from <@{user}> in Slack:\n{task}" if context else task
        req = NewSession(
            repo=repo_location(repo, self.config.github_url),
            prompt=prompt,
            title=task.splitlines()[0][:100],
            requested_by=self.config.requester(user),
            source="slack",
            origin=origin_of(team, channel, thread_ts),
        )
        try:
            session = await create_session(
                self.store,
                req,
                max_prompt_bytes=self.config.max_prompt_bytes,
                credentials=self.credentials,
                cause=cause,
            )
        except OriginTaken as e:  # two mentions raced for one thread: the second is a follow-up of the first
            await self.post_message_to(e.session_id, user, task, cause=cause)
            return
        except BadRequest as e:  # an unknown repository, a prompt too large: the person can fix it
            await self.poster.post(channel, thread_ts, f":warning: I could not start: {format.escape(str(e))}")
            return
        await self._post_status(session.id, team, channel, thread_ts)

    async def post_message_to(self, session_id: str, user: str, text: str, *, cause: str | None = None) -> None:
        msg = NewMessage(text=text, author=self.config.requester(user))
        await post_message(self.store, session_id, msg, max_prompt_bytes=self.config.max_prompt_bytes, cause=cause)

    async def _post_status(self, session_id: str, team: str, channel: str, thread_ts: str) -> None:
        session = await self.store.get(session_id)
        text = format.started_text(session, self.config.session_url(session_id))
        ts: str | None = None
        try:  # the run goes on without it; failing the job would have its retry post the request again
            ts = await self.poster.post(channel, thread_ts, text)
        except SlackError as e:
            log.warning("slack: no status message for session %s: %s", session_id, e)
        thread = SlackThread(
            session_id=session_id, team=team, channel=channel, thread_ts=thread_ts, status_ts=ts, shown=text
        )
        await self.threads.save(thread, active=True)

    async def _context(self, m: SlackMessage) -> str:
        """The thread so far, for a mention in a thread that people have been discussing."""
        assert m.thread_ts is not None
        messages = await self.poster.replies(m.channel, m.thread_ts, before_ts=m.ts)
        return format.thread_context(messages, self.config.context_limit_bytes) if messages else ""

    async def _likely_repos(self) -> list[str]:
        """The channels' default repositories, then the ones most sessions ran on."""
        counts: dict[str, str] = await self.redis.hgetall(keys.facet_values("repo"))
        used = sorted(counts, key=lambda r: -int(counts[r]))
        return list(dict.fromkeys([*self.config.channel_repos.values(), *used]))[: format.MAX_BUTTONS]


def _thread(job: SlackMessage | RepoChosen) -> str:
    return job.thread if isinstance(job, SlackMessage) else job.thread_ts
