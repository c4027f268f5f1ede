"""A small GitHub world for the integration tests: the stand-in with one repository (the `remote` fixture's
project), people with their roles, the App installed, and webhook payloads built from GitHub's own examples
(tests/fixtures/github, from npm @octokit/webhooks-examples) with the stand-in's objects put in."""

import copy
import json
import subprocess
import uuid
from pathlib import Path

import httpx
from pydantic import JsonValue

from integrations.github.webhooks import sign
from integrations.testing.github_standin import GitHubStandIn

FIXTURES = Path(__file__).parents[1] / "fixtures" / "github"
REPO = "acme/calc"
INSTALLATION = 7001
WEBHOOK_SECRET = "whsec-test-" + "3b8e1f0c2d" * 3
Json = dict[str, JsonValue]


def example(name: str) -> Json:
    """A payload exactly as GitHub documents it (`issue_comment.created`, `pull_request.closed`...)."""
    payload: Json = json.loads((FIXTURES / f"{name}.json").read_text())
    return payload


def build_world(gh: GitHubStandIn, source: Path) -> None:
    gh.add_repo(REPO, source)
    gh.grant(REPO, "alice", "write")
    gh.grant(REPO, "tom", "triage")
    gh.add_user("mallory")
    gh.install("acme", [REPO], installation_id=INSTALLATION)


def _fill(payload: Json, gh: GitHubStandIn, sender: str, repo: str = REPO) -> Json:
    payload = copy.deepcopy(payload)
    payload["repository"] = gh.repo_json(repo)
    payload["sender"] = gh.user_json(sender)
    installation = payload["installation"]
    assert isinstance(installation, dict)
    installation["id"] = INSTALLATION
    return payload


def issue_comment(gh: GitHubStandIn, number: int, comment: Json, repo: str = REPO) -> Json:
    p = _fill(example("issue_comment.created"), gh, _login(comment), repo)
    p["issue"], p["comment"] = gh.issue_json(repo, number), comment
    return p


def review_comment(gh: GitHubStandIn, number: int, comment: Json, repo: str = REPO) -> Json:
    p = _fill(example("pull_request_review_comment.created"), gh, _login(comment), repo)
    p["pull_request"], p["comment"] = gh.pull_json(repo, number), comment
    return p


def review(gh: GitHubStandIn, number: int, submitted: Json, repo: str = REPO) -> Json:
    p = _fill(example("pull_request_review.submitted"), gh, _login(submitted), repo)
    p["pull_request"], p["review"] = gh.pull_json(repo, number), submitted
    return p


def pull_request(gh: GitHubStandIn, action: str, number: int, sender: str, repo: str = REPO) -> Json:
    p = _fill(example(f"pull_request.{action}"), gh, sender, repo)
    p["pull_request"], p["number"] = gh.pull_json(repo, number), number
    return p


def _login(obj: Json) -> str:
    user = obj["user"]
    assert isinstance(user, dict)
    return str(user["login"])


def signed(event: str, payload: Json | bytes, *, delivery: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(WEBHOOK_SECRET.encode(), body),
        "X-GitHub-Hook-ID": "42",
        "User-Agent": "GitHub-Hookshot/2a3b4c5",
        "Content-Type": "application/json",
    }
    return body, headers


async def deliver(
    client: httpx.AsyncClient, event: str, payload: Json | bytes, *, delivery: str | None = None
) -> httpx.Response:
    body, headers = signed(event, payload, delivery=delivery)
    return await client.post("/webhooks/github", content=body, headers=headers)


def push_branch(gh: GitHubStandIn, repo: str, branch: str, files: dict[str, str], *, base: str = "main") -> str:
    """A person pushes `branch` (from `base`) with these files changed; returns the new commit."""
    git_dir = str(gh.git_dir(repo))
    env = {
        "GIT_AUTHOR_NAME": "Bob",
        "GIT_AUTHOR_EMAIL": "bob@example.com",
        "GIT_COMMITTER_NAME": "Bob",
        "GIT_COMMITTER_EMAIL": "bob@example.com",
        "GIT_INDEX_FILE": f"{git_dir}/index.{branch.replace('/', '-')}",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }

    def git(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            ["git", "--git-dir", git_dir, *args], input=stdin, capture_output=True, text=True, env=env, check=True
        )
        return done.stdout.strip()

    parent = git("rev-parse", f"refs/heads/{base}")
    git("read-tree", parent)
    for path, content in files.items():
        blob = git("hash-object", "-w", "--stdin", stdin=content)
        git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = git("write-tree")
    commit = git("commit-tree", tree, "-p", parent, "-m", f"change {', '.join(files)}")
    git("update-ref", f"refs/heads/{branch}", commit)
    return commit
