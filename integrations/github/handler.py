"""Handling one accepted delivery: record what happened to Nightshift's PRs, review a PR when it is opened, gets
new commits or someone asks, and turn an @mention into work — after checking who asked and where the PR comes
from — or into a polite no."""

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import Redis

from control_plane import keys
from control_plane.errors import BadRequest, OriginTaken
from control_plane.git import Mirrors
from control_plane.models import NewMessage, NewSession
from control_plane.pull_requests import PullRequestStore
from control_plane.sessions import create_session, post_message
from control_plane.snapshot_refresh import request_refresh
from control_plane.store import SessionStore
from harness.model import Model
from integrations.github import context
from integrations.github.api import GitHubApi, PullInfo
from integrations.github.auth import GitHubAuth
from integrations.github.config import GitHubConfig
from integrations.github.errors import GitHubApiError
from integrations.github.models import (
    CommentEvent,
    Delivery,
    GitHubEvent,
    GitHubOrigin,
    InstallationEvent,
    PullRequestEvent,
    PushEvent,
    ThreadRef,
    origin_key,
)
from integrations.github.routing import Admission, admit, plan
from integrations.github.threads import Threads
from reviewer.config import Trigger
from reviewer.github import review_pull_request

log = logging.getLogger(__name__)
_REFUSAL_TTL_S = 24 * 3600
"""One polite no per person and thread per day: mentions from outsiders must not make the bot spam."""
_REVIEW_LOCK_MS = 30 * 60 * 1000
"""Longer than any review takes; kept after a review is posted, so a late redelivery for that head is a no-op even
before GitHub lists the review the reviewer's own once-per-head check reads."""


class DeliveryHandler:
    def __init__(
        self,
        *,
        config: GitHubConfig,
        auth: GitHubAuth,
        api: GitHubApi,
        redis: Redis,
        store: SessionStore,
        threads: Threads,
        prs: PullRequestStore,
        mirrors: Mirrors,
        review_model: Callable[[], Model],
    ) -> None:
        self.config, self.auth, self.api, self.redis = config, auth, api, redis
        self.store, self.threads, self.prs = store, threads, prs
        self.mirrors = mirrors
        self.review_model = review_model
        """Called per review, so a process that never reviews never opens a model client."""
        self._bot_login: str | None = None

    async def __call__(self, delivery: Delivery) -> None:
        event = delivery.event
        if isinstance(event, PushEvent):
            if event.to_default_branch:  # sessions name the repo by its clone URL; so do their snapshots
                await request_refresh(self.redis, event.repo.clone_url)
            return
        if isinstance(event, InstallationEvent):
            log.info("GitHub %s %s: forgetting installation %d", delivery.name, event.action, event.installation_id)
            gone = event.action in ("deleted", "suspend")
            await self.auth.announce_change(event.installation_id, event.repos, gone=gone)
            return
        decided = plan(event, bot_login=await self.bot_login(), mention=self.config.mention)
        log.info("GitHub %s %s: %s", delivery.name, delivery.id, decided)
        if decided.record:
            await self._record(event)
        if decided.review is not None:
            await self._review(event, decided.review)
        if decided.trigger:
            assert isinstance(event, CommentEvent)
            await self._trigger(event)

    async def bot_login(self) -> str:
        if self._bot_login is None:
            self._bot_login = await asyncio.to_thread(self.auth.bot_login)
        return self._bot_login

    async def _record(self, event: GitHubEvent) -> None:
        """Only pull requests Nightshift opened are recorded; the store ignores the others."""
        key = f"{event.repo.full_name}#{event.number}"
        if isinstance(event, PullRequestEvent):
            if event.action == "closed":
                await self.prs.closed(key, merged=event.merged, at=event.at, actor=event.actor.login)
            elif event.action == "reopened":
                await self.prs.reopened(key, at=event.at, actor=event.actor.login)
        elif event.via == "review":
            await self.prs.reviewed(key, str(event.comment_id), at=event.at, actor=event.author.login)
        else:
            await self.prs.commented(key, f"{event.via}:{event.comment_id}", at=event.at, actor=event.author.login)

    async def _review(self, event: GitHubEvent, trigger: Trigger) -> None:
        """One review of the PR's current head. The head is read now rather than taken from the event: two quick
        pushes' deliveries then both lock the newest head, the one the reviewer reads, and only one posts."""
        repo, number, inst = event.repo.full_name, event.number, event.installation_id
        head = (await self.api.pull(repo, number, inst)).head_sha
        lock = keys.github_review_lock(repo, number, head)
        if not await self.redis.set(lock, "1", nx=True, px=_REVIEW_LOCK_MS):
            log.info("review of %s#%d at %s: another delivery has it", repo, number, head[:12])
            return
        try:
            git_dir = await self.mirrors.refresh(event.repo.clone_url, refs=[f"refs/pull/{number}/head"])
            outcome = await review_pull_request(
                await self.api.repository(repo, inst),
                number,
                git_dir=git_dir,
                trigger=trigger,
                model=self.review_model(),
                bot_login=await self.bot_login(),
            )
        except BaseException:
            await self.redis.delete(lock)  # free the head for the consumer's retry of this delivery
            raise
        log.info("review of %s#%d at %s (%s): %s", repo, number, head[:12], trigger, outcome.decision.reason)

    async def _trigger(self, event: CommentEvent) -> None:
        repo, inst = event.repo.full_name, event.installation_id
        here = ThreadRef(
            repo=repo,
            number=event.number,
            installation_id=inst,
            review_comment_id=event.review_thread.root_comment_id if event.review_thread else None,
            asked_by=event.author.login,
        )
        admission, pull = await self._admission(event)
        if admission in ("no_permission", "fork_refused"):
            await self._refuse(here, "permission" if admission == "no_permission" else "fork")
            return
        origin = origin_key(repo, event.number)
        home = await self._home(event, origin, pull, admission)
        await self.threads.expect_answer(home, here)
        try:
            await self._start_or_continue(event, origin, pull, admission)
        except BadRequest as e:  # the repository is unreachable, the request too large...: say so where asked
            await self.threads.forget_answer(home, here)
            await self.api.reply(here, context.render("refused.md.j2", why="error", asked_by=here.asked_by, detail=e))
            return
        if event.via != "review":  # reviews have no reactions; the answer in the thread follows anyway
            await self._react(event)

    async def _react(self, event: CommentEvent) -> None:
        """The 👀 is cosmetic: when it fails (the comment was deleted, GitHub errs or rate-limits) the delivery is
        done all the same. Failing it would have the consumer replay a delivery whose work is already asked for."""
        review = event.via == "review_comment"
        repo, inst = event.repo.full_name, event.installation_id
        try:
            await self.api.react(repo, event.number, event.comment_id, review=review, installation_id=inst)
        except GitHubApiError as e:
            log.warning("no 👀 on %s %d in %s#%d: %s", event.via, event.comment_id, repo, event.number, e)

    async def _admission(self, event: CommentEvent) -> tuple[Admission, PullInfo | None]:
        """May this person start work here, and how (a fork's PR); with the PR, when it is one."""
        repo, inst = event.repo.full_name, event.installation_id
        permission = await self.api.permission(repo, event.author.login, inst)
        pull = await self.api.pull(repo, event.number, inst) if event.on_pull_request else None
        fork = pull is not None and pull.head_repo != repo
        return admit(permission, fork=fork, fork_policy=self.config.fork_policy), pull

    async def _home(self, event: CommentEvent, origin: str, pull: PullInfo | None, admission: Admission) -> str:
        """The origin the session's GitHub state lives under: its own for a session this ask continues (a PR that
        Nightshift opened for an issue maps to the issue's session), else this one — remembered before the session
        exists, so a run that ends at once still finds where to answer."""
        existing = await self.store.by_origin(origin)
        if existing is not None:
            return (await self.store.get(existing)).origin or origin
        meta = GitHubOrigin(
            repo=event.repo,
            number=event.number,
            on_pull_request=event.on_pull_request,
            installation_id=event.installation_id,
            pr_branch=pull.head_ref if pull is not None and admission == "run" else None,
            fork=pull is not None and pull.head_repo != event.repo.full_name,
        )
        await self.threads.remember(origin, meta)
        return origin

    async def _start_or_continue(
        self, event: CommentEvent, origin: str, pull: PullInfo | None, admission: Admission
    ) -> None:
        existing = await self.store.by_origin(origin)
        if existing is None:
            try:
                await create_session(
                    self.store,
                    await self._new_session(event, origin, pull, admission),
                    max_prompt_bytes=self.config.max_prompt_bytes,
                    credentials=self.auth,
                    cause=event.cause,
                )
                return
            except OriginTaken as e:  # another delivery for this issue or PR won the race: continue its session
                existing = e.session_id
        session = await self.store.get(existing)
        credit = event.author.co_author()
        if credit not in session.co_authors:  # everyone who asked is credited in the commits that follow
            await self.store.update(existing, co_authors=[*session.co_authors, credit][-10:])
        message = NewMessage(text=context.follow_up(event), author=event.author.login)
        await post_message(
            self.store, existing, message, max_prompt_bytes=self.config.max_prompt_bytes, cause=event.cause
        )

    async def _new_session(
        self, event: CommentEvent, origin: str, pull: PullInfo | None, admission: Admission
    ) -> NewSession:
        repo = event.repo
        thread = await self.api.thread(repo.full_name, event.number, event.installation_id, pull=pull is not None)
        if pull is None:  # an issue: a new branch from the default one, a PR that closes the issue
            base, branch, upstream, title = None, None, repo.default_branch, thread.title
        elif admission == "run":  # the PR's own branch, pushed to as new commits of the same PR
            base, branch, upstream, title = pull.head_ref, pull.head_ref, pull.base_ref, pull.title
        else:  # a fork's PR: start from its head as GitHub keeps it in the base repository, never push to the fork
            base, branch, upstream = f"refs/pull/{pull.number}/head", None, pull.base_ref
            title = f"{pull.title} (follow-up to #{pull.number})"
        budget = min(self.config.context_limit_bytes, self.config.max_prompt_bytes // 2)
        prompt = context.first_message(
            event, thread, admission=admission, branch=branch, upstream=upstream, budget_bytes=budget
        )
        return NewSession(
            repo=repo.clone_url,
            prompt=prompt,
            base=base,
            branch=branch,
            upstream=upstream,
            title=title[:200],
            requested_by=event.author.login,
            source="github",
            origin=origin,
            origin_url=event.url,
            read_only=admission == "read_only",
            co_authors=[event.author.co_author()],
        )

    async def _refuse(self, here: ThreadRef, why: str) -> None:
        once = keys.github_seen(f"refused:{here.repo}#{here.number}:{here.asked_by}")
        if await self.redis.set(once, "1", nx=True, ex=_REFUSAL_TTL_S):
            await self.api.reply(here, context.render("refused.md.j2", why=why, asked_by=here.asked_by, repo=here.repo))
