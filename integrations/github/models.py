"""Our own typed view of what GitHub tells us: the events we act on, the threads we answer in. Webhook payloads
become these in webhooks.py; REST answers in api.py. Nothing else in the integration sees vendor JSON."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field


class RepoRef(BaseModel):
    full_name: str
    """owner/name"""
    clone_url: str
    html_url: str
    default_branch: str
    private: bool = True


class Actor(BaseModel):
    login: str
    id: int
    type: str = "User"
    """User, Bot or Organization."""

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot" or self.login.endswith("[bot]")

    def co_author(self) -> str:
        """GitHub's noreply address credits the commit to the account without exposing an email."""
        return f"{self.login} <{self.id}+{self.login}@users.noreply.github.com>"


class ReviewThread(BaseModel):
    """Where an inline review comment sits; answers go to the thread's first comment."""

    root_comment_id: int
    path: str
    line: int | None
    diff_hunk: str


Via = Literal["issue_comment", "review_comment", "review"]


class CommentEvent(BaseModel):
    """Someone wrote on an issue or a PR: a conversation comment, an inline review comment, or a review's body."""

    kind: Literal["comment"] = "comment"
    via: Via
    repo: RepoRef
    number: int
    on_pull_request: bool
    title: str
    comment_id: int
    """The comment's id (the review's id for a review)."""
    body: str
    author: Actor
    url: str
    at: float
    installation_id: int | None = None
    review_thread: ReviewThread | None = None
    review_state: str | None = None

    @property
    def cause(self) -> str:
        """What the comment puts into a session is known by this (ids of comments, review comments and reviews are
        separate sequences), so a retried delivery puts it there once."""
        return f"github:{self.via}:{self.repo.full_name}:{self.comment_id}"


PullRequestAction = Literal["closed", "reopened", "opened", "ready_for_review", "synchronize", "review_requested"]


class PullRequestEvent(BaseModel):
    """A PR changed: closed or reopened (recorded on Nightshift's PRs), or opened, marked ready, given new commits,
    or a review was requested (each may start a code review)."""

    kind: Literal["pull_request"] = "pull_request"
    action: PullRequestAction
    repo: RepoRef
    number: int
    merged: bool
    at: float
    actor: Actor
    """Who caused it (the webhook's sender)."""
    author: str
    """The PR's author: the bot's login on Nightshift's own PRs."""
    head_sha: str
    draft: bool
    requested_reviewer: str | None = None
    """review_requested: the user asked to review (None when a team was asked)."""
    installation_id: int | None = None


class PushEvent(BaseModel):
    """Commits pushed to a branch: a push to the default branch asks for a fresh warm-start snapshot."""

    kind: Literal["push"] = "push"
    repo: RepoRef
    ref: str
    after: str
    installation_id: int | None = None

    @property
    def to_default_branch(self) -> bool:
        return self.ref == f"refs/heads/{self.repo.default_branch}"


class InstallationEvent(BaseModel):
    """The App was installed, uninstalled, suspended or given other repositories (`installation`,
    `installation_repositories`): which installation covers which repository may have changed."""

    kind: Literal["installation"] = "installation"
    action: str
    installation_id: int
    repos: list[str]
    """owner/name of the repositories the event names (added, removed, or all those of the installation)."""


GitHubEvent = Annotated[CommentEvent | PullRequestEvent | PushEvent | InstallationEvent, Field(discriminator="kind")]


class Delivery(BaseModel):
    """A webhook delivery we accepted, as it waits in the delivery stream."""

    id: str
    """X-GitHub-Delivery"""
    name: str
    """X-GitHub-Event"""
    received_at: float
    event: GitHubEvent


class ThreadRef(BaseModel):
    """A conversation Nightshift answers in: an issue's or PR's comments, or one inline review thread."""

    repo: str
    number: int
    installation_id: int | None = None
    review_comment_id: int | None = None
    """Set: reply in this inline review thread (its first comment's id); None: in the conversation."""
    asked_by: str = ""
    """Login of the person who asked, greeted in the answer."""


class GitHubOrigin(BaseModel):
    """What a session's origin key stands for on GitHub, kept for the publisher."""

    repo: RepoRef
    number: int
    on_pull_request: bool
    installation_id: int | None = None
    pr_branch: str | None = None
    """Set when the session works on an existing PR's own branch: its work lands in that PR."""
    fork: bool = False

    @property
    def conversation(self) -> ThreadRef:
        return ThreadRef(repo=self.repo.full_name, number=self.number, installation_id=self.installation_id)


def origin_key(repo: str, number: int) -> str:
    """One issue or PR maps to one session."""
    return f"github:{repo}#{number}"
