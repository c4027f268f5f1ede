"""The GitHub REST calls Nightshift makes, through PyGithub, as async methods returning our own models.

PyGithub is synchronous: each call runs in a worker thread. Its exceptions become GitHubApiError here, so the rest
of the integration never sees a vendor type.
"""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from github import GithubException
from github.PullRequest import PullRequest
from github.Repository import Repository
from pydantic import BaseModel
from requests import RequestException

from integrations.github.auth import GitHubAuth, api_message
from integrations.github.errors import GitHubApiError, InstallationGone
from integrations.github.models import ThreadRef

T = TypeVar("T")


class PullInfo(BaseModel):
    number: int
    title: str
    body: str
    author: str
    url: str
    state: str
    draft: bool
    head_ref: str
    head_sha: str
    head_repo: str | None
    """owner/name the head branch lives in (a fork's for a PR from a fork); None once the fork is deleted."""
    base_ref: str


class Comment(BaseModel):
    id: int
    author: str
    body: str
    at: str
    url: str
    path: str | None = None
    line: int | None = None
    diff_hunk: str | None = None
    in_reply_to: int | None = None


class FileDiff(BaseModel):
    path: str
    status: str
    patch: str | None
    """None for binary files and diffs GitHub considers too large to show."""


class Thread(BaseModel):
    """An issue or a PR with everything people wrote on it."""

    title: str
    body: str
    author: str
    url: str
    comments: list[Comment]
    pull: PullInfo | None = None
    review_comments: list[Comment] = []
    reviews: list[Comment] = []
    files: list[FileDiff] = []


class GitHubApi:
    def __init__(self, auth: GitHubAuth) -> None:
        self.auth = auth

    async def _call(self, fn: Callable[[], T]) -> T:
        await self.auth.catch_up()
        try:
            return await self._attempt(fn)
        except InstallationGone:  # reinstalled since the id was cached or stored: looked up again, once
            return await self._attempt(fn)

    async def _attempt(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(fn)
        except GithubException as e:
            raise GitHubApiError(e.status, api_message(e)) from e
        except RequestException as e:
            raise GitHubApiError(0, str(e)) from e

    def _repo(self, repo: str, installation_id: int | None) -> Repository:
        return self.auth.client(self.auth.installation_for(repo, installation_id)).get_repo(repo)

    async def permission(self, repo: str, login: str, installation_id: int | None) -> str:
        """admin, write, read or none (GitHub maps maintain to write and triage to read)."""

        def get() -> str:
            try:
                return self._repo(repo, installation_id).get_collaborator_permission(login)
            except GithubException as e:
                if e.status == 404:
                    return "none"  # no such user, or not visible to us: no access either way
                raise

        return await self._call(get)

    async def repository(self, repo: str, installation_id: int | None) -> Repository:
        """The PyGithub repository itself, for the reviewer (a peer package that drives PyGithub on its own)."""
        return await self._call(lambda: self._repo(repo, installation_id))

    async def pull(self, repo: str, number: int, installation_id: int | None) -> PullInfo:
        return await self._call(lambda: _pull_info(self._repo(repo, installation_id).get_pull(number)))

    async def thread(self, repo: str, number: int, installation_id: int | None, *, pull: bool) -> Thread:
        """The issue or PR with its comments; for a PR also the review comments, the reviews and the diff."""
        return await self._call(lambda: self._thread(repo, number, installation_id, pull=pull))

    def _thread(self, repo: str, number: int, installation_id: int | None, *, pull: bool) -> Thread:
        r = self._repo(repo, installation_id)
        issue = r.get_issue(number)
        comments = [
            Comment(id=c.id, author=c.user.login, body=c.body or "", at=c.created_at.isoformat(), url=c.html_url)
            for c in issue.get_comments()
        ]
        thread = Thread(
            title=issue.title,
            body=issue.body or "",
            author=issue.user.login,
            url=issue.html_url,
            comments=comments,
        )
        if not pull:
            return thread
        pr = r.get_pull(number)
        thread.pull = _pull_info(pr)
        thread.review_comments = [
            Comment(
                id=c.id,
                author=c.user.login,
                body=c.body or "",
                at=c.created_at.isoformat(),
                url=c.html_url,
                path=c.path,
                line=c.line,
                diff_hunk=c.diff_hunk,
                in_reply_to=c.in_reply_to_id,
            )
            for c in pr.get_review_comments()
        ]
        thread.reviews = [
            Comment(
                id=v.id,
                author=v.user.login,
                body=f"[{v.state}] {v.body or ''}".strip(),
                at=v.submitted_at.isoformat() if v.submitted_at else "",
                url=v.html_url,
            )
            for v in pr.get_reviews()
        ]
        thread.files = [FileDiff(path=f.filename, status=f.status, patch=f.patch) for f in pr.get_files()]
        return thread

    async def reply(self, to: ThreadRef, body: str) -> str:
        """Answer in the conversation or the inline review thread; returns the new comment's URL."""

        def post() -> str:
            r = self._repo(to.repo, to.installation_id)
            if to.review_comment_id is not None:
                return r.get_pull(to.number).create_review_comment_reply(to.review_comment_id, body).html_url
            return r.get_issue(to.number).create_comment(body).html_url

        return await self._call(post)

    async def react(
        self, repo: str, number: int, comment_id: int, *, review: bool, installation_id: int | None
    ) -> None:
        """An 👀 on the comment that asked: seen, working on it — without a comment of its own."""

        def post() -> None:
            r = self._repo(repo, installation_id)
            if review:
                r.get_pull(number).get_review_comment(comment_id).create_reaction("eyes")
            else:
                r.get_issue(number).get_comment(comment_id).create_reaction("eyes")

        await self._call(post)

    async def default_branch(self, repo: str, installation_id: int | None) -> str:
        return await self._call(lambda: self._repo(repo, installation_id).default_branch)

    async def open_pull_for(self, repo: str, branch: str, installation_id: int | None) -> PullInfo | None:
        """The open pull request whose head is `branch` of `repo`, if there is one."""

        def find() -> PullInfo | None:
            owner = repo.split("/")[0]
            found = list(self._repo(repo, installation_id).get_pulls(state="open", head=f"{owner}:{branch}"))
            return _pull_info(found[0]) if found else None

        return await self._call(find)

    async def open_pull(
        self, repo: str, *, title: str, body: str, head: str, base: str, draft: bool, installation_id: int | None
    ) -> PullInfo:
        def create() -> PullInfo:
            r = self._repo(repo, installation_id)
            return _pull_info(r.create_pull(base=base, head=head, title=title, body=body, draft=draft))

        return await self._call(create)

    async def set_pull_body(self, repo: str, number: int, body: str, installation_id: int | None) -> None:
        await self._call(lambda: self._repo(repo, installation_id).get_pull(number).edit(body=body))


def _pull_info(pr: PullRequest) -> PullInfo:
    head_repo = pr.head.repo
    return PullInfo(
        number=pr.number,
        title=pr.title,
        body=pr.body or "",
        author=pr.user.login,
        url=pr.html_url,
        state=pr.state,
        draft=bool(pr.draft),
        head_ref=pr.head.ref,
        head_sha=pr.head.sha,
        head_repo=head_repo.full_name if head_repo is not None else None,
        base_ref=pr.base.ref,
    )
