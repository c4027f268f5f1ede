"""When a run ends (control_plane.observers.RunObserver): open or update the pull request that carries its work,
then answer in the threads that asked — with what was done, the PR, and the live session.

A session on an existing PR's own branch needs no PR of its own: its commits are already in that PR. A session on
a repository of ours that did not come from GitHub (web, CLI, Slack) still ends with a PR, and no thread answer.
"""

import re
import time
from dataclasses import dataclass

from control_plane.git import GitError, Mirrors, git
from control_plane.models import Session
from control_plane.pull_requests import PullRequestRecord, PullRequestStore
from control_plane.store import SessionStore
from harness.events import ArtifactSaved, Note, PullRequestOpened, RunOutcome, ToolResult, ToolStarted
from integrations.github import context
from integrations.github.api import GitHubApi, PullInfo
from integrations.github.auth import GitHubAuth
from integrations.github.config import GitHubConfig
from integrations.github.models import GitHubOrigin, origin_key
from integrations.github.threads import Threads

_CHECK = re.compile(r"\b(pytest|test|tests|unittest|tox|nox|ruff|mypy|lint|check|make|npm|pnpm|yarn|cargo|go)\b")
_MAX_CHECKS = 6


@dataclass(frozen=True)
class Check:
    command: str
    ok: bool


@dataclass(frozen=True)
class Screenshot:
    name: str
    description: str
    url: str
    """The web UI's artifact route: behind sign-in, like the session itself, so a link rather than an inline image."""


class PullRequestPublisher:
    def __init__(
        self,
        *,
        config: GitHubConfig,
        auth: GitHubAuth,
        api: GitHubApi,
        store: SessionStore,
        threads: Threads,
        prs: PullRequestStore,
        mirrors: Mirrors,
    ) -> None:
        self.config, self.auth, self.api = config, auth, api
        self.store, self.threads, self.prs, self.mirrors = store, threads, prs, mirrors

    async def run_ended(self, session: Session, outcome: RunOutcome) -> None:
        if outcome == "waiting" or session.parent_id is not None:
            return  # waiting on its sub-sessions, or a sub-session: the parent's run carries the work
        origin = await self.threads.origin(session.origin) if session.origin else None
        repo = origin.repo.full_name if origin else self.auth.repo_of(session.repo)
        inst = origin.installation_id if origin else None
        # Not one of our GitHub repositories: no PR, but a report issue (a webhook's destination) still hears.
        pull = await self._pull_request(session, outcome, repo, origin, inst) if repo is not None else None
        await self._answer(session, outcome, origin, pull)

    async def _pull_request(
        self, session: Session, outcome: RunOutcome, repo: str, origin: GitHubOrigin | None, inst: int | None
    ) -> PullInfo | None:
        if session.read_only or not session.pushed_commit:
            return None
        if origin is not None and origin.pr_branch == session.branch:
            return None  # the work went to an existing PR's own branch: that PR carries it
        body = await self._description(session, outcome, origin)
        existing = await self.api.open_pull_for(repo, session.branch, inst)
        if existing is not None:
            if _marker(session.id) in existing.body:  # ours, and nobody rewrote it: tell about the latest run
                await self.api.set_pull_body(repo, existing.number, body, inst)
                event = PullRequestOpened(
                    url=existing.url, number=existing.number, action="updated", draft=existing.draft
                )
                await self.store.append(session.id, event)
            return existing
        base = session.upstream or await self.api.default_branch(repo, inst)
        draft = self.config.draft_prs or outcome != "finished"
        created = await self.api.open_pull(
            repo, title=session.title, body=body, head=session.branch, base=base, draft=draft, installation_id=inst
        )
        await self.prs.opened(
            PullRequestRecord(
                key=f"{repo}#{created.number}",
                repo=repo,
                number=created.number,
                url=created.url,
                session_id=session.id,
                source=session.source,
                requested_by=session.requested_by,
                opened_at=time.time(),
            )
        )
        await self.store.update(session.id, pr_url=created.url)
        # One PR, one session: asks on this PR continue the session that opened it, with its history and sandbox.
        await self.store.claim_origin(origin_key(repo, created.number), session.id)
        await self.store.append(
            session.id, PullRequestOpened(url=created.url, number=created.number, action="opened", draft=draft)
        )
        return created

    async def _description(self, session: Session, outcome: RunOutcome, origin: GitHubOrigin | None) -> str:
        issue = origin.number if origin is not None and not origin.on_pull_request else None
        requester = (
            f"@{session.requested_by}" if session.source == "github" else f"{session.requested_by} ({session.source})"
        )
        checks, screenshots = await self._evidence(session.id)
        return context.render(
            "pr_body.md.j2",
            summary=session.summary.strip() or session.title,
            issue_number=issue,
            requester=requester,
            origin_url=session.origin_url,
            checks=checks,
            screenshots=screenshots,
            stat=await self._stat(session),
            checkpoint=outcome != "finished",
            session_url=self.config.session_url(session.id),
            session_id=session.id,
        )

    async def _evidence(self, session_id: str) -> tuple[list[Check], list[Screenshot]]:
        """How the work was checked (the last test-like shell commands and whether they passed) and the
        screenshots the agent took, from one read of the log."""
        started: dict[str, str] = {}
        checks: list[Check] = []
        shots: list[Screenshot] = []
        for item in await self.store.events(session_id):
            e = item.event
            if isinstance(e, ToolStarted) and e.name == "shell" and _CHECK.search(e.summary):
                started[e.tool_use_id] = e.summary.removeprefix("shell ")  # the summary is "<tool> <command>"
            elif isinstance(e, ToolResult) and e.tool_use_id in started:
                checks.append(Check(command=started.pop(e.tool_use_id)[:200], ok=not e.is_error))
            elif isinstance(e, ArtifactSaved) and e.mime_type.startswith("image/"):
                url = f"{self.config.session_url(session_id)}/artifacts/{e.name}"
                shots.append(Screenshot(name=e.name, description=e.description, url=url))
        return checks[-_MAX_CHECKS:], shots

    async def _stat(self, session: Session) -> str:
        """`git diff --stat` of the work against where it is to be merged, from the control plane's mirror."""
        mirror = self.mirrors.path(session.repo)
        target = f"refs/heads/{session.upstream}" if session.upstream else "HEAD"
        try:
            return (await git("diff", "--stat", f"{target}...{session.pushed_commit}", cwd=mirror)).strip()
        except GitError:
            return ""  # the mirror lacks the target (a tag or commit base): the PR's own diff view has it all

    async def _answer(
        self, session: Session, outcome: RunOutcome, origin: GitHubOrigin | None, pull: PullInfo | None
    ) -> None:
        waiting = await self.threads.take_answers(session.origin) if session.origin else []
        if not waiting and origin is not None:
            waiting = [origin.conversation]  # asked while the last run was ending: answer in the conversation
        if (report := await self.threads.report_issue(session.id)) is not None:
            waiting.append(report)
        fresh = await self.store.get(session.id)
        for where in waiting:
            text = context.render(
                "reply.md.j2",
                # Greet the person who asked; an automation's session has nobody to mention.
                asked_by=where.asked_by or (session.requested_by if session.source == "github" else ""),
                outcome=outcome,
                reason=fresh.error or outcome.replace("_", " "),
                summary=fresh.summary.strip(),
                pr_url=pull.url if pull else None,
                pushed=bool(fresh.pushed_commit) and not fresh.read_only,
                pr_branch=origin.pr_branch if origin else None,
                branch=fresh.branch,
                commit=fresh.pushed_commit,
                read_only=fresh.read_only,
                session_url=self.config.session_url(session.id),
            )
            url = await self.api.reply(where, text)
            await self.store.append(session.id, Note(text=f"answered on GitHub: {url}"))


def _marker(session_id: str) -> str:
    return f"<!-- nightshift:session:{session_id} -->"
