"""JSON shapes of the GitHub REST API objects the stand-in serves, following GitHub's REST description
(`@octokit/openapi`: simple-user, full-repository, issue, pull-request, issue-comment, pull-request-review-comment,
pull-request-review, installation). Webhook payloads carry the same objects, so tests build payloads from them too.

Pure functions of the stand-in's state; `api` is the REST root (http://127.0.0.1:PORT) and `web` the host people
and git use (the same server here, as on GitHub Enterprise)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from pydantic import JsonValue

Json = dict[str, JsonValue]


@dataclass
class User:
    login: str
    id: int
    type: Literal["User", "Bot", "Organization"] = "User"


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    default_branch: str
    private: bool
    collaborators: dict[str, str] = field(default_factory=dict)
    """login -> role: admin, maintain, write, triage, read."""
    fork_of: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass
class Pull:
    head_repo: str
    head_ref: str
    base_ref: str
    draft: bool = False
    merged_at: float | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    maintainer_can_modify: bool = False


@dataclass
class Issue:
    repo: str
    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: float
    updated_at: float
    state: Literal["open", "closed"] = "open"
    closed_at: float | None = None
    pull: Pull | None = None


@dataclass
class IssueComment:
    id: int
    repo: str
    number: int
    user: str
    body: str
    created_at: float


@dataclass
class ReviewComment:
    id: int
    repo: str
    number: int
    user: str
    body: str
    path: str
    line: int | None
    commit_id: str
    diff_hunk: str
    review_id: int
    created_at: float
    in_reply_to_id: int | None = None


@dataclass
class Review:
    id: int
    repo: str
    number: int
    user: str
    body: str
    state: Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"]
    commit_id: str
    submitted_at: float


def iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def node_id(kind: str, id: int) -> str:
    return f"{kind}_{id:x}"


def user_json(api: str, web: str, u: User) -> Json:
    base = f"{api}/users/{u.login}"
    return {
        "login": u.login,
        "id": u.id,
        "node_id": node_id("U", u.id),
        "avatar_url": f"{web}/avatars/{u.login}",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{web}/{u.login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": u.type,
        "user_view_type": "public",
        "site_admin": False,
    }


_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repo_json(api: str, web: str, r: Repo, owner: Json, *, full: bool = True) -> Json:
    url = f"{api}/repos/{r.full_name}"
    shape: Json = {
        "id": r.id,
        "node_id": node_id("R", r.id),
        "name": r.name,
        "full_name": r.full_name,
        "private": r.private,
        "owner": owner,
        "html_url": f"{web}/{r.full_name}",
        "description": None,
        "fork": r.fork_of is not None,
        "url": url,
        **{name: url + suffix for name, suffix in _REPO_URLS.items()},
        "created_at": iso(r.created_at),
        "updated_at": iso(r.created_at),
        "pushed_at": iso(r.created_at),
        "git_url": f"{web}/{r.full_name}.git".replace("http://", "git://"),
        "ssh_url": f"git@127.0.0.1:{r.full_name}.git",
        "clone_url": f"{web}/{r.full_name}.git",
        "svn_url": f"{web}/{r.full_name}",
        "homepage": None,
        "size": 1,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": "Python",
        "has_issues": True,
        "has_projects": False,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": 0,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "topics": [],
        "visibility": "private" if r.private else "public",
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "default_branch": r.default_branch,
    }
    if full:
        shape.update({"network_count": 0, "subscribers_count": 0})
    return shape


def issue_json(api: str, web: str, i: Issue, user: Json, *, comments: int) -> Json:
    repo_url = f"{api}/repos/{i.repo}"
    url = f"{repo_url}/issues/{i.number}"
    shape: Json = {
        "url": url,
        "repository_url": repo_url,
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{web}/{i.repo}/{'pull' if i.pull else 'issues'}/{i.number}",
        "id": i.id,
        "node_id": node_id("I", i.id),
        "number": i.number,
        "title": i.title,
        "user": user,
        "labels": [],
        "state": i.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": comments,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "closed_at": iso(i.closed_at),
        "author_association": "CONTRIBUTOR",
        "active_lock_reason": None,
        "body": i.body,
        "state_reason": None,
    }
    if i.pull is not None:
        shape["pull_request"] = {
            "url": f"{repo_url}/pulls/{i.number}",
            "html_url": f"{web}/{i.repo}/pull/{i.number}",
            "diff_url": f"{web}/{i.repo}/pull/{i.number}.diff",
            "patch_url": f"{web}/{i.repo}/pull/{i.number}.patch",
            "merged_at": iso(i.pull.merged_at),
        }
    return shape


@dataclass(frozen=True)
class Side:
    """One end of a pull request as the stand-in's git sees it."""

    ref: str
    sha: str
    repo: Json | None
    owner: Json


@dataclass(frozen=True)
class PullCounts:
    comments: int
    review_comments: int
    commits: int
    additions: int
    deletions: int
    changed_files: int


def pull_json(
    api: str, web: str, i: Issue, user: Json, head: Side, base: Side, counts: PullCounts, merged_by: Json | None
) -> Json:
    assert i.pull is not None
    p = i.pull
    repo_url = f"{api}/repos/{i.repo}"
    url = f"{repo_url}/pulls/{i.number}"
    html = f"{web}/{i.repo}/pull/{i.number}"
    links = {
        "self": url,
        "html": html,
        "issue": f"{repo_url}/issues/{i.number}",
        "comments": f"{repo_url}/issues/{i.number}/comments",
        "review_comments": f"{url}/comments",
        "review_comment": f"{repo_url}/pulls/comments{{/number}}",
        "commits": f"{url}/commits",
        "statuses": f"{repo_url}/statuses/{head.sha}",
    }

    def side(s: Side) -> Json:
        label = f"{s.owner['login']}:{s.ref}"
        return {"label": label, "ref": s.ref, "sha": s.sha, "user": s.owner, "repo": s.repo}

    return {
        "url": url,
        "id": i.id,
        "node_id": node_id("PR", i.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": links["issue"],
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "number": i.number,
        "state": i.state,
        "locked": False,
        "title": i.title,
        "user": user,
        "body": i.body,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "closed_at": iso(i.closed_at),
        "merged_at": iso(p.merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": side(head),
        "base": side(base),
        "_links": {name: {"href": href} for name, href in links.items()},
        "author_association": "CONTRIBUTOR",
        "auto_merge": None,
        "draft": p.draft,
        "merged": p.merged_at is not None,
        "mergeable": None,
        "rebaseable": None,
        "mergeable_state": "unknown",
        "merged_by": merged_by,
        "comments": counts.comments,
        "review_comments": counts.review_comments,
        "maintainer_can_modify": p.maintainer_can_modify,
        "commits": counts.commits,
        "additions": counts.additions,
        "deletions": counts.deletions,
        "changed_files": counts.changed_files,
    }


def issue_comment_json(api: str, web: str, c: IssueComment, user: Json, *, on_pull: bool) -> Json:
    repo_url = f"{api}/repos/{c.repo}"
    kind = "pull" if on_pull else "issues"
    return {
        "url": f"{repo_url}/issues/comments/{c.id}",
        "html_url": f"{web}/{c.repo}/{kind}/{c.number}#issuecomment-{c.id}",
        "issue_url": f"{repo_url}/issues/{c.number}",
        "id": c.id,
        "node_id": node_id("IC", c.id),
        "user": user,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.created_at),
        "author_association": "CONTRIBUTOR",
        "body": c.body,
        "performed_via_github_app": None,
    }


def review_comment_json(api: str, web: str, c: ReviewComment, user: Json) -> Json:
    repo_url = f"{api}/repos/{c.repo}"
    url = f"{repo_url}/pulls/comments/{c.id}"
    pull_url = f"{repo_url}/pulls/{c.number}"
    html = f"{web}/{c.repo}/pull/{c.number}#discussion_r{c.id}"
    shape: Json = {
        "url": url,
        "pull_request_review_id": c.review_id,
        "id": c.id,
        "node_id": node_id("PRRC", c.id),
        "diff_hunk": c.diff_hunk,
        "path": c.path,
        "position": c.line,
        "original_position": c.line,
        "commit_id": c.commit_id,
        "original_commit_id": c.commit_id,
        "user": user,
        "body": c.body,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.created_at),
        "html_url": html,
        "pull_request_url": pull_url,
        "author_association": "CONTRIBUTOR",
        "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pull_url}},
        "start_line": None,
        "original_start_line": None,
        "start_side": None,
        "line": c.line,
        "original_line": c.line,
        "side": "RIGHT",
        "subject_type": "line",
    }
    if c.in_reply_to_id is not None:
        shape["in_reply_to_id"] = c.in_reply_to_id
    return shape


def review_json(api: str, web: str, r: Review, user: Json) -> Json:
    pull_url = f"{api}/repos/{r.repo}/pulls/{r.number}"
    html = f"{web}/{r.repo}/pull/{r.number}#pullrequestreview-{r.id}"
    return {
        "id": r.id,
        "node_id": node_id("PRR", r.id),
        "user": user,
        "body": r.body,
        "state": r.state,
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "submitted_at": iso(r.submitted_at),
        "commit_id": r.commit_id,
        "author_association": "CONTRIBUTOR",
    }
