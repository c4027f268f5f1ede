"""A local stand-in for GitHub that KEEPS STATE: the REST API routes Nightshift uses and git hosting over smart HTTP.

It is for tests and demos; it never calls GitHub. What it reproduces faithfully is the wire format: the real
PyGithub client (`Github(base_url=standin.base_url, ...)`) and real git talk to it unmodified.

* REST routes and response shapes follow GitHub's REST description (npm `@octokit/openapi`, api.github.com):
  App authentication (a JWT signed with the App's key, checked here with its public key), installation access tokens
  that expire, repositories, collaborator permissions, issues and their comments, pull requests, review comments and
  replies, reviews, reactions, merging. Errors have GitHub's `{"message", "documentation_url"}` shape.
* Each repository is a bare git repository under `root`, served at `<base_url>/<owner>/<name>.git` (its clone_url)
  through `git http-backend`. Private repositories (the default) need a token: an installation token of an
  installation that covers the repository, or a personal token of a collaborator, sent as HTTP Basic auth.
* Who did what is recorded: every REST call (`calls`), every git request (`git_requests`), every token issued.

People act through methods (`comment`, `open_pull`, `review_comment`, `merge`...), as they would on github.com; the
App acts through the API. Tests build webhook payloads from the same objects (`repo_json`, `issue_json`...).
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.testing.server import ServerThread
from integrations.testing import _github_shapes as shapes
from integrations.testing._git_http import http_backend
from integrations.testing._github_shapes import Issue, IssueComment, Json, Pull, Repo, Review, ReviewComment, User

__all__ = ["Call", "GitHubStandIn", "GitRequest"]

_DOCS = "https://docs.github.com/rest"
_PERMISSION_OF_ROLE = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}
_APP_PERMISSIONS = {"contents": "write", "issues": "write", "pull_requests": "write", "metadata": "read"}
_APP_EVENTS = ["issue_comment", "pull_request", "pull_request_review", "pull_request_review_comment"]
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "GitHub",
    "GIT_AUTHOR_EMAIL": "noreply@github.com",
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.com",
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    status: int
    actor: str
    """Who the credentials belong to: an App (`app`), the App's bot login, a person's login, or `anonymous`."""


@dataclass(frozen=True)
class GitRequest:
    repo: str
    service: str
    """git-upload-pack (clone, fetch, ls-remote) or git-receive-pack (push)."""
    actor: str
    status: int


@dataclass
class _Installation:
    id: int
    account: str
    repos: set[str]


@dataclass
class _Token:
    value: str
    expires_at: float
    installation_id: int | None = None
    login: str | None = None
    """Set for a personal token: the person it belongs to."""


@dataclass(frozen=True)
class _Who:
    kind: Literal["anonymous", "app", "installation", "user"]
    login: str = "anonymous"
    installation_id: int | None = None


@dataclass
class _Reaction:
    id: int
    subject: str
    user: str
    content: str
    created_at: float = field(default_factory=time.time)


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    refusal: _Refused
    times: int


class _Refused(Exception):
    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None, errors: list[Json] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers, self.errors = status, message, headers or {}, errors


class GitHubStandIn:
    """`with GitHubStandIn(tmp_path) as gh:` serves on a free port of 127.0.0.1 until the block ends."""

    def __init__(
        self, root: Path, *, app_id: int = 4242, app_slug: str = "nightshift", token_lifetime_s: float = 3600
    ) -> None:
        self.root = root
        self.app_id, self.app_slug, self.token_lifetime_s = app_id, app_slug, token_lifetime_s
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._public_key = key.public_key()
        self._lock = threading.RLock()
        self._ids = itertools.count(100_001)
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.issues: dict[tuple[str, int], Issue] = {}
        self.issue_comment_list: list[IssueComment] = []
        self.review_comment_list: list[ReviewComment] = []
        self.review_list: list[Review] = []
        self.reactions: list[_Reaction] = []
        self.installations: dict[int, _Installation] = {}
        self._tokens: dict[str, _Token] = {}
        self.issued_tokens: list[str] = []
        """Every installation token handed out, oldest first."""
        self.calls: list[Call] = []
        self.git_requests: list[GitRequest] = []
        self.bot = self.add_user(f"{app_slug}[bot]", type="Bot")
        self.manifests: list[Json] = []
        """Every App manifest a person created an App from (`create_app_from_manifest`)."""
        self._manifest_codes: dict[str, Json] = {}
        self._faults: list[_Fault] = []
        self._server = ServerThread(self._build_app(), "github-standin")

    # --- lifecycle ------------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._server.stop()

    # --- the world: people, repositories, installations ------------------------------------------------------------

    def add_user(self, login: str, *, type: Literal["User", "Bot", "Organization"] = "User") -> User:
        with self._lock:
            user = self.users.setdefault(login, User(login=login, id=next(self._ids), type=type))
            return user

    def add_repo(
        self,
        full_name: str,
        source: Path,
        *,
        private: bool = True,
        default_branch: str = "main",
        fork_of: str | None = None,
    ) -> Repo:
        """A repository whose git content is a bare clone of `source` (a path git can clone)."""
        owner, name = full_name.split("/")
        path = self._git_dir(full_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(source), str(path)], check=True, capture_output=True)
        with self._lock:
            repo = Repo(
                id=next(self._ids),
                owner=self.add_user(owner),
                name=name,
                default_branch=default_branch,
                private=private,
                fork_of=fork_of,
            )
            self.repos[full_name] = repo
            return repo

    def grant(self, full_name: str, login: str, role: str) -> None:
        """Make `login` a collaborator with a role: admin, maintain, write, triage or read."""
        with self._lock:
            self.add_user(login)
            self.repos[full_name].collaborators[login] = role

    def install(self, account: str, repos: list[str], *, installation_id: int | None = None) -> int:
        """Install the App on `account` for these repositories; returns the installation id."""
        with self._lock:
            self.add_user(account)
            inst = _Installation(id=installation_id or next(self._ids), account=account, repos=set(repos))
            self.installations[inst.id] = inst
            return inst.id

    def uninstall(self, installation_id: int) -> None:
        """Remove the installation: its tokens stop working and its token endpoint answers 404, as on GitHub."""
        with self._lock:
            del self.installations[installation_id]
            for value in [v for v, t in self._tokens.items() if t.installation_id == installation_id]:
                del self._tokens[value]

    def token_installation(self, value: str) -> int | None:
        """The installation a token was issued for (None: unknown, revoked, or a personal token)."""
        with self._lock:
            token = self._tokens.get(value)
            return token.installation_id if token is not None else None

    def create_app_from_manifest(self, manifest: Json) -> str:
        """What a person does on GitHub's "Create GitHub App" page: returns the code GitHub redirects back with
        (the App created is this stand-in's own App, under the manifest's name)."""
        code = secrets.token_hex(10)
        with self._lock:
            self.manifests.append(manifest)
            self._manifest_codes[code] = manifest
        return code

    def personal_token(self, login: str) -> str:
        with self._lock:
            self.add_user(login)
            value = "ghp_" + secrets.token_urlsafe(27)
            self._tokens[value] = _Token(value=value, expires_at=float("inf"), login=login)
            return value

    def git_dir(self, full_name: str) -> Path:
        return self._git_dir(full_name)

    # --- people acting ---------------------------------------------------------------------------------------------

    def open_issue(self, full_name: str, title: str, body: str, *, by: str) -> Json:
        with self._lock:
            issue = self._new_issue(full_name, title, body, by, pull=None)
            return self.issue_json(full_name, issue.number)

    def comment(self, full_name: str, number: int, body: str, *, by: str) -> Json:
        with self._lock:
            return self._comment(full_name, number, body, by)

    def open_pull(
        self,
        full_name: str,
        *,
        title: str,
        head: str,
        by: str,
        base: str | None = None,
        body: str = "",
        head_repo: str | None = None,
        draft: bool = False,
    ) -> Json:
        with self._lock:
            return self._open_pull(full_name, title, head, base, body, by, head_repo or full_name, draft)

    def review_comment(
        self, full_name: str, number: int, body: str, *, by: str, path: str, line: int, in_reply_to: int | None = None
    ) -> Json:
        with self._lock:
            return self._review_comment(full_name, number, body, by, path, line, in_reply_to)

    def submit_review(
        self,
        full_name: str,
        number: int,
        body: str,
        *,
        by: str,
        state: Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED"] = "COMMENTED",
    ) -> Json:
        with self._lock:
            review = Review(
                id=next(self._ids),
                repo=full_name,
                number=number,
                user=by,
                body=body,
                state=state,
                commit_id=self._head_sha(self.issues[(full_name, number)]),
                submitted_at=time.time(),
            )
            self.review_list.append(review)
            return shapes.review_json(self.base_url, self.base_url, review, self.user_json(by))

    def merge(self, full_name: str, number: int, *, by: str) -> Json:
        with self._lock:
            self._merge(self.issues[(full_name, number)], by)
            return self.pull_json(full_name, number)

    def close(self, full_name: str, number: int, *, by: str) -> Json:
        with self._lock:
            issue = self.issues[(full_name, number)]
            issue.state, issue.closed_at, issue.updated_at = "closed", time.time(), time.time()
            return self.pull_json(full_name, number) if issue.pull else self.issue_json(full_name, number)

    def reopen(self, full_name: str, number: int, *, by: str) -> Json:
        with self._lock:
            issue = self.issues[(full_name, number)]
            issue.state, issue.closed_at, issue.updated_at = "open", None, time.time()
            return self.pull_json(full_name, number) if issue.pull else self.issue_json(full_name, number)

    # --- what is there (JSON as the API serves it) ----------------------------------------------------------------

    def user_json(self, login: str) -> Json:
        return shapes.user_json(self.base_url, self.base_url, self.users[login])

    def repo_json(self, full_name: str, *, full: bool = True) -> Json:
        repo = self.repos[full_name]
        return shapes.repo_json(self.base_url, self.base_url, repo, self.user_json(repo.owner.login), full=full)

    def issue_json(self, full_name: str, number: int) -> Json:
        with self._lock:
            issue = self.issues[(full_name, number)]
            count = sum(1 for c in self.issue_comment_list if (c.repo, c.number) == (full_name, number))
            return shapes.issue_json(self.base_url, self.base_url, issue, self.user_json(issue.user), comments=count)

    def pull_json(self, full_name: str, number: int) -> Json:
        with self._lock:
            return self._pull_json(self.issues[(full_name, number)])

    def pulls(self, full_name: str) -> list[Json]:
        with self._lock:
            return [self._pull_json(i) for (r, _), i in sorted(self.issues.items()) if r == full_name and i.pull]

    def issue_comments(self, full_name: str, number: int) -> list[Json]:
        with self._lock:
            found = [c for c in self.issue_comment_list if (c.repo, c.number) == (full_name, number)]
            return [self._issue_comment_json(c) for c in found]

    def review_comments(self, full_name: str, number: int) -> list[Json]:
        with self._lock:
            found = [c for c in self.review_comment_list if (c.repo, c.number) == (full_name, number)]
            return [shapes.review_comment_json(self.base_url, self.base_url, c, self.user_json(c.user)) for c in found]

    def fail(self, method: str, path: str, status: int, *, times: int = 1) -> None:
        """The next `times` calls of `method` on a path matching the regular expression `path` fail as GitHub fails:
        404 Not Found (a deleted comment), 5xx Server Error, or 403 with the primary rate limit's message and
        headers (`x-ratelimit-remaining: 0`). A failed call changes nothing and is recorded in `calls`."""
        if status == 403:
            reset = str(int(time.time()))  # now: a client that honours the reset waits no time in tests
            headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
            refusal = _Refused(403, "API rate limit exceeded for installation ID 0.", headers=headers)
        else:
            refusal = _Refused(status, "Not Found" if status == 404 else "Server Error")
        with self._lock:
            self._faults.append(_Fault(method.upper(), re.compile(path), refusal, times))

    def _fault_for(self, request: Request) -> _Refused | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method == request.method and fault.path.search(request.url.path):
                    fault.times -= 1
                    return fault.refusal
        return None

    def reactions_on(self, subject: str) -> list[tuple[str, str]]:
        """(login, content) of the reactions on `issue_comment:<id>` or `review_comment:<id>`."""
        with self._lock:
            return [(r.user, r.content) for r in self.reactions if r.subject == subject]

    # --- internals: state changes ----------------------------------------------------------------------------------

    def _git_dir(self, full_name: str) -> Path:
        return self.root / f"{full_name}.git"

    def _git(self, full_name: str, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["git", "--git-dir", str(self._git_dir(full_name)), *args],
            capture_output=True,
            text=True,
            env={**_GIT_IDENTITY, "PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
        if check and done.returncode != 0:
            raise _Refused(422, f"git {args[0]} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def _branch_sha(self, full_name: str, branch: str) -> str | None:
        sha = self._git(full_name, "rev-parse", "--verify", "-q", f"refs/heads/{branch}", check=False)
        return sha or None

    def _new_issue(self, full_name: str, title: str, body: str | None, by: str, pull: Pull | None) -> Issue:
        if full_name not in self.repos:
            raise _Refused(404, "Not Found")
        self.add_user(by)
        number = 1 + max((n for (r, n) in self.issues if r == full_name), default=0)
        now = time.time()
        issue = Issue(full_name, number, next(self._ids), title, body, by, now, now, pull=pull)
        self.issues[(full_name, number)] = issue
        return issue

    def _issue(self, full_name: str, number: int, *, pull: bool = False) -> Issue:
        issue = self.issues.get((full_name, number))
        if issue is None or (pull and issue.pull is None):
            raise _Refused(404, "Not Found")
        return issue

    def _comment(self, full_name: str, number: int, body: str, by: str) -> Json:
        issue = self._issue(full_name, number)
        self.add_user(by)
        comment = IssueComment(next(self._ids), full_name, number, by, body, time.time())
        self.issue_comment_list.append(comment)
        issue.updated_at = comment.created_at
        return self._issue_comment_json(comment)

    def _issue_comment_json(self, c: IssueComment) -> Json:
        on_pull = self.issues[(c.repo, c.number)].pull is not None
        return shapes.issue_comment_json(self.base_url, self.base_url, c, self.user_json(c.user), on_pull=on_pull)

    def _open_pull(
        self, full_name: str, title: str, head: str, base: str | None, body: str, by: str, head_repo: str, draft: bool
    ) -> Json:
        if ":" in head:  # "owner:branch": GitHub's way of naming the branch of a fork
            owner, head = head.split(":", 1)
            forks = [r.full_name for r in self.repos.values() if r.owner.login == owner and r.fork_of == full_name]
            head_repo = forks[0] if forks else f"{owner}/{full_name.split('/')[1]}"
        base = base or self.repos[full_name].default_branch
        errors: list[Json] = []
        if self._branch_sha(head_repo, head) is None:
            errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
        if self._branch_sha(full_name, base) is None:
            errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
        if errors:
            raise _Refused(422, "Validation Failed", errors=errors)
        for issue in self.issues.values():
            p = issue.pull
            if (
                issue.repo == full_name
                and issue.state == "open"
                and p
                and (p.head_repo, p.head_ref, p.base_ref)
                == (
                    head_repo,
                    head,
                    base,
                )
            ):
                owner = head_repo.split("/")[0]
                raise _Refused(422, f"A pull request already exists for {owner}:{head}.")
        issue = self._new_issue(full_name, title, body, by, Pull(head_repo=head_repo, head_ref=head, base_ref=base))
        issue.pull.draft = draft  # type: ignore[union-attr]
        self._sync_pull_ref(issue)
        return self._pull_json(issue)

    def _sync_pull_ref(self, issue: Issue) -> str:
        """GitHub keeps refs/pull/N/head in the base repository at the PR's head, forks included."""
        assert issue.pull is not None
        ref = f"refs/pull/{issue.number}/head"
        sha = self._branch_sha(issue.pull.head_repo, issue.pull.head_ref)
        if sha is None:  # the head branch is gone: the PR keeps its last head
            return self._git(issue.repo, "rev-parse", ref)
        if issue.pull.head_repo != issue.repo:
            self._git(issue.repo, "fetch", "-q", str(self._git_dir(issue.pull.head_repo)), f"+{sha}:{ref}")
        else:
            self._git(issue.repo, "update-ref", ref, sha)
        return sha

    def _head_sha(self, issue: Issue) -> str:
        return self._sync_pull_ref(issue)

    def _review_comment(
        self, full_name: str, number: int, body: str, by: str, path: str, line: int | None, in_reply_to: int | None
    ) -> Json:
        issue = self._issue(full_name, number, pull=True)
        self.add_user(by)
        if in_reply_to is not None:
            root = next((c for c in self.review_comment_list if c.id == in_reply_to and c.number == number), None)
            if root is None:
                raise _Refused(404, "Not Found")
            path, line, hunk, in_reply_to = root.path, root.line, root.diff_hunk, root.in_reply_to_id or root.id
        else:
            hunk = self._hunk(issue, path, line)
        comment = ReviewComment(
            id=next(self._ids),
            repo=full_name,
            number=number,
            user=by,
            body=body,
            path=path,
            line=line,
            commit_id=self._head_sha(issue),
            diff_hunk=hunk,
            review_id=next(self._ids),
            created_at=time.time(),
            in_reply_to_id=in_reply_to,
        )
        self.review_comment_list.append(comment)
        issue.updated_at = comment.created_at
        return shapes.review_comment_json(self.base_url, self.base_url, comment, self.user_json(by))

    def _hunk(self, issue: Issue, path: str, line: int | None) -> str:
        """The diff hunk a review comment is anchored in: the PR's diff of `path` up to the commented line."""
        base, head = self._merge_base(issue), self._head_sha(issue)
        patch = self._git(issue.repo, "diff", base, head, "--", path)
        lines = patch.splitlines()
        start = next((i for i, text in enumerate(lines) if text.startswith("@@")), None)
        if start is None:
            raise _Refused(422, "Validation Failed: path is not part of the diff")
        return "\n".join(lines[start : start + 1 + max(line or 1, 1)])

    def _merge_base(self, issue: Issue) -> str:
        assert issue.pull is not None
        head = self._head_sha(issue)
        base = self._branch_sha(issue.repo, issue.pull.base_ref)
        return self._git(issue.repo, "merge-base", base or head, head)

    def _merge(self, issue: Issue, by: str) -> str:
        pull = issue.pull
        if pull is None or issue.state != "open":
            raise _Refused(405, "Pull Request is not mergeable")
        head = self._head_sha(issue)
        base = self._branch_sha(issue.repo, pull.base_ref)
        assert base is not None
        tree = self._git(issue.repo, "merge-tree", "--write-tree", base, head, check=False).splitlines()
        if not tree or not re.fullmatch(r"[0-9a-f]{40}", tree[0]):
            raise _Refused(405, "Pull Request is not mergeable")
        message = f"Merge pull request #{issue.number} from {pull.head_repo.split('/')[0]}/{pull.head_ref}"
        commit = self._git(issue.repo, "commit-tree", tree[0], "-p", base, "-p", head, "-m", message)
        self._git(issue.repo, "update-ref", f"refs/heads/{pull.base_ref}", commit, base)
        now = time.time()
        pull.merged_at, pull.merged_by, pull.merge_commit_sha = now, by, commit
        issue.state, issue.closed_at, issue.updated_at = "closed", now, now
        return commit

    def _pull_json(self, issue: Issue) -> Json:
        assert issue.pull is not None
        p = issue.pull
        head_sha = self._head_sha(issue)
        base_sha = self._branch_sha(issue.repo, p.base_ref) or head_sha
        merge_base = self._merge_base(issue)
        numstat = [
            line.split("\t") for line in self._git(issue.repo, "diff", "--numstat", merge_base, head_sha).splitlines()
        ]
        counts = shapes.PullCounts(
            comments=sum(1 for c in self.issue_comment_list if (c.repo, c.number) == (issue.repo, issue.number)),
            review_comments=sum(
                1 for c in self.review_comment_list if (c.repo, c.number) == (issue.repo, issue.number)
            ),
            commits=int(self._git(issue.repo, "rev-list", "--count", f"{merge_base}..{head_sha}")),
            additions=sum(int(n[0]) for n in numstat if n[0].isdigit()),
            deletions=sum(int(n[1]) for n in numstat if n[1].isdigit()),
            changed_files=len(numstat),
        )
        head_repo = self.repos.get(p.head_repo)
        head = shapes.Side(
            ref=p.head_ref,
            sha=head_sha,
            repo=self.repo_json(p.head_repo, full=False) if head_repo else None,
            owner=self.user_json(p.head_repo.split("/")[0]),
        )
        base = shapes.Side(
            ref=p.base_ref,
            sha=base_sha,
            repo=self.repo_json(issue.repo, full=False),
            owner=self.user_json(issue.repo.split("/")[0]),
        )
        merged_by = self.user_json(p.merged_by) if p.merged_by else None
        return shapes.pull_json(
            self.base_url, self.base_url, issue, self.user_json(issue.user), head, base, counts, merged_by
        )

    def _files(self, issue: Issue) -> list[Json]:
        base, head = self._merge_base(issue), self._head_sha(issue)
        names = self._git(issue.repo, "diff", "--name-status", base, head).splitlines()
        numstat = {
            n.split("\t")[2]: n.split("\t") for n in self._git(issue.repo, "diff", "--numstat", base, head).splitlines()
        }
        status_of = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied", "T": "changed"}
        files: list[Json] = []
        for entry in names:
            status, path = entry.split("\t")[0], entry.split("\t")[-1]
            added, removed = (int(x) if x.isdigit() else 0 for x in numstat.get(path, ["0", "0"])[:2])
            patch = self._git(issue.repo, "diff", base, head, "--", path).splitlines()
            start = next((i for i, text in enumerate(patch) if text.startswith("@@")), len(patch))
            blob = self._git(issue.repo, "rev-parse", f"{head}:{path}", check=False) or "0" * 40
            files.append(
                {
                    "sha": blob,
                    "filename": path,
                    "status": status_of.get(status[0], "modified"),
                    "additions": added,
                    "deletions": removed,
                    "changes": added + removed,
                    "blob_url": f"{self.base_url}/{issue.repo}/blob/{head}/{path}",
                    "raw_url": f"{self.base_url}/{issue.repo}/raw/{head}/{path}",
                    "contents_url": f"{self.base_url}/repos/{issue.repo}/contents/{path}?ref={head}",
                    "patch": "\n".join(patch[start:]),
                }
            )
        return files

    # --- internals: authentication ----------------------------------------------------------------------------------

    def _who(self, request: Request) -> _Who:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        scheme = scheme.lower()
        if not scheme:
            return _Who("anonymous")
        if scheme == "bearer" and credential.count(".") == 2:
            return self._app_jwt(credential)
        if scheme == "basic":
            _, _, credential = base64.b64decode(credential).decode().partition(":")
        elif scheme not in ("token", "bearer"):
            raise _Refused(401, "Bad credentials")
        token = self._tokens.get(credential)
        if token is None or token.expires_at <= time.time():
            raise _Refused(401, "Bad credentials")
        if token.login is not None:
            return _Who("user", token.login)
        return _Who("installation", self.bot.login, token.installation_id)

    def _app_jwt(self, token: str) -> _Who:
        try:
            claims = jwt.decode(
                token, self._public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}
            )
        except jwt.PyJWTError as e:
            raise _Refused(401, f"A JSON web token could not be decoded: {e}") from e
        if str(claims["iss"]) != str(self.app_id):
            raise _Refused(401, "'Issuer' claim ('iss') must be an Integer")
        return _Who("app", "app")

    def _can_read(self, who: _Who, repo: Repo) -> bool:
        if who.kind == "installation":
            inst = self.installations.get(who.installation_id or 0)
            return inst is not None and repo.full_name in inst.repos
        if who.kind == "user":
            return not repo.private or who.login == repo.owner.login or who.login in repo.collaborators
        return not repo.private

    def _can_write(self, who: _Who, repo: Repo) -> bool:
        if who.kind == "installation":
            return self._can_read(who, repo)
        role = "admin" if who.login == repo.owner.login else repo.collaborators.get(who.login, "")
        return who.kind == "user" and _PERMISSION_OF_ROLE.get(role) in ("write", "admin")

    def _repo_for(self, request: Request, who: _Who, *, write: bool = False) -> Repo:
        if who.kind == "app":
            raise _Refused(403, "A JSON web token cannot be used to access this resource; use an installation token")
        full_name = f"{request.path_params['owner']}/{request.path_params['repo']}"
        repo = self.repos.get(full_name)
        if repo is None or not self._can_read(who, repo):
            raise _Refused(404, "Not Found")
        if write and not self._can_write(who, repo):
            raise _Refused(403, "Resource not accessible by integration" if who.kind == "installation" else "Forbidden")
        return repo

    # --- the HTTP side ----------------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        r = "/repos/{owner}/{repo}"
        routes = [
            Route("/app", self._get_app),
            Route("/app/installations", self._get_installations),
            Route("/app-manifests/{code}/conversions", self._convert_manifest, methods=["POST"]),
            Route(r + "/installation", self._get_repo_installation),
            Route("/app/installations/{installation_id:int}/access_tokens", self._create_token, methods=["POST"]),
            Route("/user", self._get_user),
            Route(r, self._get_repo),
            Route(r + "/collaborators/{username}/permission", self._get_permission),
            Route(r + "/issues/{number:int}", self._get_issue),
            Route(r + "/issues/{number:int}/comments", self._issue_comments_route, methods=["GET", "POST"]),
            Route(r + "/issues/comments/{id:int}", self._get_issue_comment),
            Route(r + "/issues/comments/{id:int}/reactions", self._react_issue_comment, methods=["POST"]),
            Route(r + "/pulls", self._pulls_route, methods=["GET", "POST"]),
            Route(r + "/pulls/{number:int}", self._pull_route, methods=["GET", "PATCH"]),
            Route(r + "/pulls/{number:int}/files", self._get_files),
            Route(r + "/pulls/{number:int}/comments", self._review_comments_route, methods=["GET", "POST"]),
            Route(r + "/pulls/{number:int}/comments/{id:int}/replies", self._reply, methods=["POST"]),
            Route(r + "/pulls/comments/{id:int}", self._get_review_comment),
            Route(r + "/pulls/comments/{id:int}/reactions", self._react_review_comment, methods=["POST"]),
            Route(r + "/pulls/{number:int}/reviews", self._get_reviews),
            Route(r + "/pulls/{number:int}/merge", self._merge_route, methods=["PUT"]),
            Route("/{owner}/{repo}.git/{rest:path}", self._git_route, methods=["GET", "POST"]),
        ]
        return Starlette(routes=[Route(x.path, self._guarded(x.endpoint), methods=x.methods) for x in routes])

    def _guarded(self, endpoint):  # type: ignore[no-untyped-def]
        """Every route: who is asking, refusals in GitHub's error shape, and a record of the call."""

        async def handle(request: Request) -> Response:
            actor = "anonymous"
            try:
                with self._lock:
                    who = self._who(request)
                actor = who.login
                if (fault := self._fault_for(request)) is not None:
                    raise fault
                response: Response = await endpoint(request, who)
            except _Refused as e:
                body: Json = {"message": e.message, "documentation_url": _DOCS, "status": str(e.status)}
                if e.errors is not None:
                    body["errors"] = list(e.errors)
                response = JSONResponse(body, status_code=e.status, headers=e.headers)
            if not request.url.path.endswith((".git/info/refs", "-pack")):
                with self._lock:
                    self.calls.append(Call(request.method, request.url.path, response.status_code, actor))
            return response

        return handle

    async def _get_app(self, request: Request, who: _Who) -> Response:
        if who.kind != "app":
            raise _Refused(401, "A JSON web token could not be decoded")
        return JSONResponse(self._app_json())

    def _app_json(self) -> Json:
        now = shapes.iso(time.time())
        return {
            "id": self.app_id,
            "slug": self.app_slug,
            "node_id": shapes.node_id("A", self.app_id),
            "client_id": f"Iv1.{self.app_id:016x}",
            "owner": self.user_json(self.bot.login),
            "name": self.app_slug.title(),
            "description": "Nightshift background coding agents",
            "external_url": self.base_url,
            "html_url": f"{self.base_url}/apps/{self.app_slug}",
            "created_at": now,
            "updated_at": now,
            "permissions": _APP_PERMISSIONS,
            "events": _APP_EVENTS,
            "installations_count": len(self.installations),
        }

    def _installation_json(self, inst: _Installation) -> Json:
        now = shapes.iso(time.time())
        account = self.users[inst.account]
        return {
            "id": inst.id,
            "account": self.user_json(inst.account),
            "repository_selection": "selected",
            "access_tokens_url": f"{self.base_url}/app/installations/{inst.id}/access_tokens",
            "repositories_url": f"{self.base_url}/installation/repositories",
            "html_url": f"{self.base_url}/settings/installations/{inst.id}",
            "app_id": self.app_id,
            "app_slug": self.app_slug,
            "target_id": account.id,
            "target_type": "Organization" if account.type == "Organization" else "User",
            "permissions": _APP_PERMISSIONS,
            "events": _APP_EVENTS,
            "created_at": now,
            "updated_at": now,
            "single_file_name": None,
            "suspended_by": None,
            "suspended_at": None,
        }

    async def _get_installations(self, request: Request, who: _Who) -> Response:
        if who.kind != "app":
            raise _Refused(401, "A JSON web token could not be decoded")
        with self._lock:
            return JSONResponse([self._installation_json(i) for i in self.installations.values()])

    async def _convert_manifest(self, request: Request, who: _Who) -> Response:
        """The code is single-use: a second conversion of it is refused, as GitHub does."""
        with self._lock:
            manifest = self._manifest_codes.pop(request.path_params["code"], None)
            if manifest is None:
                raise _Refused(404, "Not Found")
            self.app_slug = str(manifest["name"]).lower()
            self.bot = self.add_user(f"{self.app_slug}[bot]", type="Bot")
            app = self._app_json()
        secrets_ = {"client_secret": secrets.token_hex(20), "webhook_secret": secrets.token_hex(20)}
        return JSONResponse({**app, **secrets_, "pem": self.private_key_pem}, status_code=201)

    async def _get_repo_installation(self, request: Request, who: _Who) -> Response:
        if who.kind != "app":
            raise _Refused(401, "A JSON web token could not be decoded")
        full_name = f"{request.path_params['owner']}/{request.path_params['repo']}"
        with self._lock:
            inst = next((i for i in self.installations.values() if full_name in i.repos), None)
            if inst is None:
                raise _Refused(404, "Not Found")
            return JSONResponse(self._installation_json(inst))

    async def _create_token(self, request: Request, who: _Who) -> Response:
        if who.kind != "app":
            raise _Refused(401, "A JSON web token could not be decoded")
        with self._lock:
            inst = self.installations.get(request.path_params["installation_id"])
            if inst is None:
                raise _Refused(404, "Not Found")
            value = "ghs_" + secrets.token_urlsafe(27)
            token = _Token(value=value, expires_at=time.time() + self.token_lifetime_s, installation_id=inst.id)
            self._tokens[value] = token
            self.issued_tokens.append(value)
        body = {
            "token": value,
            "expires_at": shapes.iso(token.expires_at),
            "permissions": _APP_PERMISSIONS,
            "repository_selection": "selected",
        }
        return JSONResponse(body, status_code=201)

    async def _get_user(self, request: Request, who: _Who) -> Response:
        if who.kind == "installation":
            raise _Refused(403, "Resource not accessible by integration")
        if who.kind != "user":
            raise _Refused(401, "Requires authentication")
        now = shapes.iso(time.time())
        profile = {
            **{k: None for k in ("name", "company", "location", "email", "hireable", "bio")},
            "blog": "",
            **{k: 0 for k in ("public_repos", "public_gists", "followers", "following")},
            "created_at": now,
            "updated_at": now,
        }
        return JSONResponse({**self.user_json(who.login), **profile})

    async def _get_repo(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who)
            return JSONResponse(self.repo_json(repo.full_name))

    async def _get_permission(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who)
            login = request.path_params["username"]
            if login not in self.users:
                raise _Refused(404, "Not Found")
            role = "admin" if login == repo.owner.login else repo.collaborators.get(login)
            permission = _PERMISSION_OF_ROLE[role] if role else ("read" if not repo.private else "none")
            user = {**self.user_json(login), "role_name": role or permission}
            return JSONResponse({"permission": permission, "role_name": role or permission, "user": user})

    async def _get_issue(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who)
            self._issue(repo.full_name, request.path_params["number"])
            return JSONResponse(self.issue_json(repo.full_name, request.path_params["number"]))

    async def _issue_comments_route(self, request: Request, who: _Who) -> Response:
        body = await _json_body(request) if request.method == "POST" else {}
        with self._lock:
            repo = self._repo_for(request, who, write=request.method == "POST")
            number = request.path_params["number"]
            if request.method == "POST":
                text = body.get("body")
                if not isinstance(text, str) or not text:
                    raise _Refused(422, "Validation Failed")
                return JSONResponse(self._comment(repo.full_name, number, text, who.login), status_code=201)
            self._issue(repo.full_name, number)
            return JSONResponse(self.issue_comments(repo.full_name, number))

    async def _get_issue_comment(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who)
            found = [
                c for c in self.issue_comment_list if c.repo == repo.full_name and c.id == request.path_params["id"]
            ]
            if not found:
                raise _Refused(404, "Not Found")
            return JSONResponse(self._issue_comment_json(found[0]))

    async def _react(self, request: Request, who: _Who, kind: str, known: set[int]) -> Response:
        body = await _json_body(request)
        content = body.get("content")
        if content not in {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}:
            raise _Refused(422, "Validation Failed")
        if request.path_params["id"] not in known:
            raise _Refused(404, "Not Found")
        with self._lock:
            reaction = _Reaction(next(self._ids), f"{kind}:{request.path_params['id']}", who.login, str(content))
            self.reactions.append(reaction)
            shape = {
                "id": reaction.id,
                "node_id": shapes.node_id("REA", reaction.id),
                "user": self.user_json(who.login),
                "content": reaction.content,
                "created_at": shapes.iso(reaction.created_at),
            }
        return JSONResponse(shape, status_code=201)

    async def _react_issue_comment(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who, write=True)
            known = {c.id for c in self.issue_comment_list if c.repo == repo.full_name}
        return await self._react(request, who, "issue_comment", known)

    async def _react_review_comment(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who, write=True)
            known = {c.id for c in self.review_comment_list if c.repo == repo.full_name}
        return await self._react(request, who, "review_comment", known)

    async def _pulls_route(self, request: Request, who: _Who) -> Response:
        body = await _json_body(request) if request.method == "POST" else {}
        with self._lock:
            repo = self._repo_for(request, who, write=request.method == "POST")
            if request.method == "POST":
                title, head = body.get("title"), body.get("head")
                if not isinstance(title, str) or not isinstance(head, str):
                    raise _Refused(422, "Validation Failed")
                base = body.get("base")
                created = self._open_pull(
                    repo.full_name,
                    title,
                    head,
                    base if isinstance(base, str) else None,
                    str(body.get("body") or ""),
                    who.login,
                    repo.full_name,
                    bool(body.get("draft", False)),
                )
                return JSONResponse(created, status_code=201)
            q = request.query_params
            state, head, base = q.get("state", "open"), q.get("head"), q.get("base")
            found = []
            for (name, _), issue in sorted(self.issues.items()):
                p = issue.pull
                if name != repo.full_name or p is None or (state != "all" and issue.state != state):
                    continue
                if head is not None and head != f"{p.head_repo.split('/')[0]}:{p.head_ref}":
                    continue
                if base is not None and base != p.base_ref:
                    continue
                found.append(self._pull_json(issue))
            return JSONResponse(found)

    async def _pull_route(self, request: Request, who: _Who) -> Response:
        body = await _json_body(request) if request.method == "PATCH" else {}
        with self._lock:
            repo = self._repo_for(request, who, write=request.method == "PATCH")
            issue = self._issue(repo.full_name, request.path_params["number"], pull=True)
            if request.method == "PATCH":
                if isinstance(body.get("title"), str):
                    issue.title = str(body["title"])
                if "body" in body:
                    issue.body = None if body["body"] is None else str(body["body"])
                if body.get("state") in ("open", "closed"):
                    issue.state = "open" if body["state"] == "open" else "closed"
                    issue.closed_at = None if issue.state == "open" else time.time()
                issue.updated_at = time.time()
            return JSONResponse(self._pull_json(issue))

    async def _get_files(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who)
            return JSONResponse(self._files(self._issue(repo.full_name, request.path_params["number"], pull=True)))

    async def _review_comments_route(self, request: Request, who: _Who) -> Response:
        body = await _json_body(request) if request.method == "POST" else {}
        with self._lock:
            repo = self._repo_for(request, who, write=request.method == "POST")
            number = request.path_params["number"]
            self._issue(repo.full_name, number, pull=True)
            if request.method == "POST":
                text, path = body.get("body"), body.get("path")
                line = body.get("line")
                reply_to = body.get("in_reply_to")
                if not isinstance(text, str) or (reply_to is None and not isinstance(path, str)):
                    raise _Refused(422, "Validation Failed")
                created = self._review_comment(
                    repo.full_name,
                    number,
                    text,
                    who.login,
                    str(path),
                    int(line) if isinstance(line, int) else None,
                    int(reply_to) if isinstance(reply_to, int) else None,
                )
                return JSONResponse(created, status_code=201)
            return JSONResponse(self.review_comments(repo.full_name, number))

    async def _reply(self, request: Request, who: _Who) -> Response:
        body = await _json_body(request)
        with self._lock:
            repo = self._repo_for(request, who, write=True)
            text = body.get("body")
            if not isinstance(text, str) or not text:
                raise _Refused(422, "Validation Failed")
            number, root = request.path_params["number"], request.path_params["id"]
            created = self._review_comment(repo.full_name, number, text, who.login, "", None, root)
            return JSONResponse(created, status_code=201)

    async def _get_review_comment(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who)
            found = [
                c for c in self.review_comment_list if c.repo == repo.full_name and c.id == request.path_params["id"]
            ]
            if not found:
                raise _Refused(404, "Not Found")
            c = found[0]
            return JSONResponse(shapes.review_comment_json(self.base_url, self.base_url, c, self.user_json(c.user)))

    async def _get_reviews(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who)
            number = request.path_params["number"]
            self._issue(repo.full_name, number, pull=True)
            found = [r for r in self.review_list if (r.repo, r.number) == (repo.full_name, number)]
            return JSONResponse(
                [shapes.review_json(self.base_url, self.base_url, r, self.user_json(r.user)) for r in found]
            )

    async def _merge_route(self, request: Request, who: _Who) -> Response:
        with self._lock:
            repo = self._repo_for(request, who, write=True)
            issue = self._issue(repo.full_name, request.path_params["number"], pull=True)
            sha = self._merge(issue, who.login)
        return JSONResponse({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

    async def _git_route(self, request: Request, who: _Who) -> Response:
        full_name = f"{request.path_params['owner']}/{request.path_params['repo']}"
        rest = request.path_params["rest"]
        service = request.query_params.get("service") or rest.rsplit("/", 1)[-1]
        push = service == "git-receive-pack"
        with self._lock:
            repo = self.repos.get(full_name)
            allowed = repo is not None and (self._can_write(who, repo) if push else self._can_read(who, repo))
        if repo is None or not allowed:
            status = 401 if who.kind == "anonymous" else 403
            self.git_requests.append(GitRequest(full_name, service, who.login, status))
            raise _Refused(status, "Authentication failed", headers={"WWW-Authenticate": 'Basic realm="GitHub"'})
        user = who.login if who.kind != "anonymous" else None
        response = await http_backend(self.root, f"/{full_name}.git/{rest}", request, user)
        with self._lock:
            self.git_requests.append(GitRequest(full_name, service, who.login, response.status_code))
        return response


async def _json_body(request: Request) -> Json:
    try:
        body = await request.json()
    except ValueError as e:
        raise _Refused(400, "Problems parsing JSON") from e
    if not isinstance(body, dict):
        raise _Refused(400, "Problems parsing JSON")
    return body
