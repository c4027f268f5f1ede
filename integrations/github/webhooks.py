"""GitHub webhook deliveries: check the signature, then turn the vendor payload into our own typed event.

This module is the adapter: the `_Hook*` models mirror the parts of GitHub's payloads we read (the rest is
ignored), and nothing outside it sees them.
"""

import json
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs

from pydantic import BaseModel, ValidationError

from integrations import signatures
from integrations.github.errors import MalformedDelivery
from integrations.github.models import (
    Actor,
    CommentEvent,
    GitHubEvent,
    InstallationEvent,
    PullRequestAction,
    PullRequestEvent,
    PushEvent,
    RepoRef,
    ReviewThread,
)


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """X-Hub-Signature-256 is `sha256=` + the hex HMAC-SHA256 of the raw body; compared in constant time."""
    return signatures.matches(secret, body, header, prefix="sha256=")


def json_of(content_type: str, body: bytes) -> bytes:
    """The JSON a delivery carries. Repository webhooks may be set to send it form-encoded (`payload=...`); App
    webhooks always send JSON. The signature covers the raw body either way, so this runs after the check."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return body
    fields = parse_qs(body.decode(errors="replace"), max_num_fields=5)
    if "payload" not in fields:
        raise MalformedDelivery("a form-encoded delivery without a payload field")
    return fields["payload"][0].encode()


def sign(secret: bytes, body: bytes) -> str:
    """What GitHub sends as X-Hub-Signature-256 (for the stand-in and tests)."""
    return "sha256=" + signatures.hex_digest(secret, body)


# --- the vendor payloads, as far as we read them --------------------------------------------------------------------


class _User(BaseModel):
    login: str
    id: int
    type: str = "User"


class _Repo(BaseModel):
    full_name: str
    clone_url: str
    html_url: str
    default_branch: str = "main"
    private: bool = False


class _Installation(BaseModel):
    id: int


class _PrLink(BaseModel):
    url: str | None = None


class _Issue(BaseModel):
    number: int
    title: str
    pull_request: _PrLink | None = None


class _Comment(BaseModel):
    id: int
    body: str | None
    user: _User
    html_url: str
    created_at: datetime


class _ReviewComment(_Comment):
    path: str
    line: int | None = None
    original_line: int | None = None
    diff_hunk: str = ""
    in_reply_to_id: int | None = None


class _Side(BaseModel):
    sha: str


class _Pull(BaseModel):
    number: int
    title: str
    user: _User
    head: _Side
    draft: bool = False
    merged: bool | None = None
    closed_at: datetime | None = None
    updated_at: datetime


class _Review(BaseModel):
    id: int
    body: str | None
    user: _User
    state: str
    html_url: str
    submitted_at: datetime | None = None


class _Hook(BaseModel):
    action: str
    repository: _Repo
    sender: _User
    installation: _Installation | None = None

    def repo(self) -> RepoRef:
        r = self.repository
        return RepoRef(
            full_name=r.full_name,
            clone_url=r.clone_url,
            html_url=r.html_url,
            default_branch=r.default_branch,
            private=r.private,
        )

    def installation_id(self) -> int | None:
        return self.installation.id if self.installation else None


class _IssueCommentHook(_Hook):
    issue: _Issue
    comment: _Comment


class _ReviewCommentHook(_Hook):
    pull_request: _Pull
    comment: _ReviewComment


class _PullRequestHook(_Hook):
    action: PullRequestAction
    pull_request: _Pull
    requested_reviewer: _User | None = None


class _PushHook(_Hook):
    action: str = ""  # pushes carry no action
    ref: str
    after: str


class _NamedRepo(BaseModel):
    full_name: str


class _InstallationHook(BaseModel):
    """`installation` and `installation_repositories`: no `repository`, the repositories are listed instead."""

    action: str
    installation: _Installation
    repositories: list[_NamedRepo] | None = None
    repositories_added: list[_NamedRepo] = []
    repositories_removed: list[_NamedRepo] = []


class _ReviewHook(_Hook):
    pull_request: _Pull
    review: _Review


def _actor(u: _User) -> Actor:
    return Actor(login=u.login, id=u.id, type=u.type)


def _issue_comment(raw: object) -> GitHubEvent:
    h = _IssueCommentHook.model_validate(raw)
    c = h.comment
    return CommentEvent(
        via="issue_comment",
        repo=h.repo(),
        number=h.issue.number,
        on_pull_request=h.issue.pull_request is not None,
        title=h.issue.title,
        comment_id=c.id,
        body=c.body or "",
        author=_actor(c.user),
        url=c.html_url,
        at=c.created_at.timestamp(),
        installation_id=h.installation_id(),
    )


def _review_comment(raw: object) -> GitHubEvent:
    h = _ReviewCommentHook.model_validate(raw)
    c = h.comment
    thread = ReviewThread(
        root_comment_id=c.in_reply_to_id or c.id, path=c.path, line=c.line or c.original_line, diff_hunk=c.diff_hunk
    )
    return CommentEvent(
        via="review_comment",
        repo=h.repo(),
        number=h.pull_request.number,
        on_pull_request=True,
        title=h.pull_request.title,
        comment_id=c.id,
        body=c.body or "",
        author=_actor(c.user),
        url=c.html_url,
        at=c.created_at.timestamp(),
        installation_id=h.installation_id(),
        review_thread=thread,
    )


def _review(raw: object) -> GitHubEvent:
    h = _ReviewHook.model_validate(raw)
    r = h.review
    return CommentEvent(
        via="review",
        repo=h.repo(),
        number=h.pull_request.number,
        on_pull_request=True,
        title=h.pull_request.title,
        comment_id=r.id,
        body=r.body or "",
        author=_actor(r.user),
        url=r.html_url,
        at=(r.submitted_at or h.pull_request.updated_at).timestamp(),
        installation_id=h.installation_id(),
        review_state=r.state,
    )


def _pull_request(raw: object) -> GitHubEvent:
    h = _PullRequestHook.model_validate(raw)
    p = h.pull_request
    closed = h.action == "closed"
    at = p.closed_at if closed and p.closed_at else p.updated_at
    return PullRequestEvent(
        action=h.action,
        repo=h.repo(),
        number=p.number,
        merged=bool(p.merged) and closed,
        at=at.timestamp(),
        actor=_actor(h.sender),
        author=p.user.login,
        head_sha=p.head.sha,
        draft=p.draft,
        requested_reviewer=h.requested_reviewer.login if h.requested_reviewer else None,
        installation_id=h.installation_id(),
    )


def _installation(raw: object) -> GitHubEvent:
    h = _InstallationHook.model_validate(raw)
    named = [*(h.repositories or []), *h.repositories_added, *h.repositories_removed]
    return InstallationEvent(action=h.action, installation_id=h.installation.id, repos=[r.full_name for r in named])


def _push(raw: object) -> GitHubEvent:
    h = _PushHook.model_validate(raw)
    return PushEvent(repo=h.repo(), ref=h.ref, after=h.after, installation_id=h.installation_id())


_PARSERS: dict[tuple[str, str], Callable[[object], GitHubEvent]] = {
    ("push", ""): _push,
    **{("installation", a): _installation for a in ("created", "deleted", "suspend", "unsuspend")},
    **{("installation_repositories", a): _installation for a in ("added", "removed")},
    ("issue_comment", "created"): _issue_comment,
    ("pull_request_review_comment", "created"): _review_comment,
    ("pull_request_review", "submitted"): _review,
    ("pull_request", "closed"): _pull_request,
    ("pull_request", "reopened"): _pull_request,
    ("pull_request", "opened"): _pull_request,
    ("pull_request", "ready_for_review"): _pull_request,
    ("pull_request", "synchronize"): _pull_request,
    ("pull_request", "review_requested"): _pull_request,
}


def parse(name: str, body: bytes) -> GitHubEvent | None:
    """The event a delivery carries, or None for events and actions Nightshift does not act on (ping, edited
    comments...). Raises MalformedDelivery when the body is not the JSON GitHub sends for that event."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MalformedDelivery(f"the body is not JSON: {e}") from e
    if not isinstance(raw, dict):
        raise MalformedDelivery("the body is not a JSON object")
    action = raw.get("action")
    parser = _PARSERS.get((name, action if isinstance(action, str) else ""))
    if parser is None:
        return None
    try:
        return parser(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MalformedDelivery(f"not a {name} payload: {where}: {first['msg']} ({e.error_count()} problems)") from e
