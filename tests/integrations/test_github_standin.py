"""The GitHub stand-in itself: its answers follow GitHub's REST description (a vendored subset of npm
@octokit/openapi), the real PyGithub client works against it, and its tokens and git hosting behave like GitHub's."""

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from github import Auth, Github, GithubException, GithubIntegration
from github_world import FIXTURES, INSTALLATION, REPO, build_world, push_branch

from integrations.testing.github_standin import GitHubStandIn

OPENAPI = json.loads((FIXTURES / "openapi-subset.json").read_text())["operations"]


@pytest.fixture
def gh(tmp_path: Path, remote: Path) -> Iterator[GitHubStandIn]:
    with GitHubStandIn(tmp_path / "github") as standin:
        build_world(standin, remote)
        yield standin


def conform(value: object, schema: dict[str, object], where: str = "$") -> list[str]:
    """Problems of `value` against an OpenAPI 3.0 schema: types, required properties, nullability, enums."""
    if not schema:
        return []
    if value is None:
        return [] if schema.get("nullable") or _branches_allow_null(schema) else [f"{where}: null not allowed"]
    for combo in ("anyOf", "oneOf"):
        if combo in schema:
            branches = schema[combo]
            assert isinstance(branches, list)
            tries = [conform(value, b, where) for b in branches]
            return [] if any(not t for t in tries) else min(tries, key=len)
    if "allOf" in schema:
        parts = schema["allOf"]
        assert isinstance(parts, list)
        return [p for part in parts for p in conform(value, part, where)]
    problem = _type_problem(value, schema, where)
    if problem:
        return [problem]
    problems: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        assert isinstance(properties, dict) and isinstance(required, list)
        problems += [f"{where}.{name}: missing" for name in required if name not in value]
        for name, sub in properties.items():
            if name in value:
                problems += conform(value[name], sub, f"{where}.{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value[:3]):
            problems += conform(item, schema["items"], f"{where}[{i}]")  # type: ignore[arg-type]
    return problems


_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def _type_problem(value: object, schema: dict[str, object], where: str) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _TYPES:
        wrong = not isinstance(value, _TYPES[kind]) or (kind in ("integer", "number") and isinstance(value, bool))
        if wrong:
            return f"{where}: {type(value).__name__} is not {kind}"
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"{where}: {value!r} not in {enum}"
    return None


def _branches_allow_null(schema: dict[str, object]) -> bool:
    branches = [b for combo in ("anyOf", "oneOf") for b in schema.get(combo, [])]  # type: ignore[attr-defined]
    return any(isinstance(b, dict) and b.get("nullable") for b in branches)


def test_every_route_answers_as_githubs_rest_description_says(gh: GitHubStandIn) -> None:
    integration = GithubIntegration(auth=Auth.AppAuth(gh.app_id, gh.private_key_pem), base_url=gh.base_url)
    jwt = integration.auth.create_jwt()
    token = integration.get_access_token(INSTALLATION).token
    push_branch(gh, REPO, "fix-add", {"calc.py": "def add(a, b):\n    return a + b\n"})
    gh.open_issue(REPO, "add() subtracts", "2 + 3 should be 5", by="alice")
    pr = gh.open_pull(REPO, title="Fix add", head="fix-add", by="alice", body="fixes #1")
    root = gh.review_comment(REPO, 2, "why?", by="alice", path="calc.py", line=2)
    issue_comment = gh.comment(REPO, 1, "hi", by="alice")
    gh.submit_review(REPO, 2, "looks right", by="alice", state="APPROVED")
    pat = gh.personal_token("alice")
    base = f"/repos/{REPO}"
    calls: list[tuple[str, str, str, str | None, dict[str, object] | None]] = [
        ("GET /app", "GET", "/app", f"Bearer {jwt}", None),
        ("GET /repos/{owner}/{repo}/installation", "GET", f"{base}/installation", f"Bearer {jwt}", None),
        ("GET /user", "GET", "/user", f"token {pat}", None),
        ("GET /repos/{owner}/{repo}", "GET", base, f"token {token}", None),
        (
            "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
            "GET",
            f"{base}/collaborators/alice/permission",
            f"token {token}",
            None,
        ),
        ("GET /repos/{owner}/{repo}/issues/{issue_number}", "GET", f"{base}/issues/1", f"token {token}", None),
        (
            "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
            "GET",
            f"{base}/issues/1/comments",
            f"token {token}",
            None,
        ),
        (
            "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
            "POST",
            f"{base}/issues/1/comments",
            f"token {token}",
            {"body": "on it"},
        ),
        (
            "GET /repos/{owner}/{repo}/issues/comments/{comment_id}",
            "GET",
            f"{base}/issues/comments/{issue_comment['id']}",
            f"token {token}",
            None,
        ),
        (
            "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            "POST",
            f"{base}/issues/comments/{issue_comment['id']}/reactions",
            f"token {token}",
            {"content": "eyes"},
        ),
        (
            "GET /repos/{owner}/{repo}/pulls",
            "GET",
            f"{base}/pulls?state=open&head=acme:fix-add",
            f"token {token}",
            None,
        ),
        ("GET /repos/{owner}/{repo}/pulls/{pull_number}", "GET", f"{base}/pulls/2", f"token {token}", None),
        (
            "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
            "PATCH",
            f"{base}/pulls/2",
            f"token {token}",
            {"body": "new"},
        ),
        ("GET /repos/{owner}/{repo}/pulls/{pull_number}/files", "GET", f"{base}/pulls/2/files", f"token {token}", None),
        (
            "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments",
            "GET",
            f"{base}/pulls/2/comments",
            f"token {token}",
            None,
        ),
        (
            "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments",
            "POST",
            f"{base}/pulls/2/comments",
            f"token {token}",
            {"body": "nit", "path": "calc.py", "line": 1, "commit_id": pr["head"]["sha"]},
        ),  # type: ignore[index]
        (
            "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
            "POST",
            f"{base}/pulls/2/comments/{root['id']}/replies",
            f"token {token}",
            {"body": "because"},
        ),
        (
            "GET /repos/{owner}/{repo}/pulls/comments/{comment_id}",
            "GET",
            f"{base}/pulls/comments/{root['id']}",
            f"token {token}",
            None,
        ),
        (
            "POST /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions",
            "POST",
            f"{base}/pulls/comments/{root['id']}/reactions",
            f"token {token}",
            {"content": "+1"},
        ),
        (
            "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            "GET",
            f"{base}/pulls/2/reviews",
            f"token {token}",
            None,
        ),
        ("PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge", "PUT", f"{base}/pulls/2/merge", f"token {token}", {}),
        (
            "POST /app/installations/{installation_id}/access_tokens",
            "POST",
            f"/app/installations/{INSTALLATION}/access_tokens",
            f"Bearer {jwt}",
            {},
        ),
        ("POST /repos/{owner}/{repo}/pulls", "POST", f"{base}/pulls", f"token {token}", None),
    ]
    assert {c[0] for c in calls} == set(OPENAPI), "every operation in the vendored subset is exercised"
    push_branch(gh, REPO, "second", {"NOTES.md": "notes\n"})
    problems: dict[str, list[str]] = {}
    with httpx.Client(base_url=gh.base_url) as client:
        for operation, method, path, auth, body in calls:
            if operation == "POST /repos/{owner}/{repo}/pulls":
                body = {"title": "Notes", "head": "second", "base": "main", "draft": True}
            response = client.request(method, path, headers={"Authorization": auth or ""}, json=body)
            responses = OPENAPI[operation]["responses"]
            assert str(response.status_code) in responses, (operation, response.status_code, response.text)
            found = conform(response.json(), responses[str(response.status_code)])
            if found:
                problems[operation] = found
    assert problems == {}


def test_pygithub_works_against_it_as_the_app(gh: GitHubStandIn) -> None:
    gh.grant(REPO, "mia", "maintain")
    integration = GithubIntegration(
        auth=Auth.AppAuth(gh.app_id, gh.private_key_pem), base_url=gh.base_url, seconds_between_writes=None
    )
    assert integration.get_app().slug == "nightshift"
    installation = integration.get_repo_installation("acme", "calc")
    assert installation.id == INSTALLATION
    repo = integration.get_github_for_installation(installation.id).get_repo(REPO)
    assert (repo.default_branch, repo.private, repo.clone_url) == ("main", True, f"{gh.base_url}/{REPO}.git")
    permissions = {who: repo.get_collaborator_permission(who) for who in ("acme", "alice", "mia", "tom", "mallory")}
    assert permissions == {"acme": "admin", "alice": "write", "mia": "write", "tom": "read", "mallory": "none"}
    push_branch(gh, REPO, "fix-add", {"calc.py": "def add(a, b):\n    return a + b\n"})
    pr = repo.create_pull(base="main", head="fix-add", title="Fix add", body="", draft=True)
    assert (pr.number, pr.draft, pr.head.ref, pr.changed_files, pr.additions) == (1, True, "fix-add", 1, 1)
    with pytest.raises(GithubException) as twice:
        repo.create_pull(base="main", head="fix-add", title="again", body="")
    assert twice.value.status == 422 and "already exists" in str(twice.value.data)
    [found] = repo.get_pulls(state="open", head="acme:fix-add")
    assert found.number == 1 and [f.filename for f in found.get_files()] == ["calc.py"]
    comment = gh.review_comment(REPO, 1, "@nightshift why?", by="alice", path="calc.py", line=2)
    reply = repo.get_pull(1).create_review_comment_reply(comment["id"], "because")  # type: ignore[arg-type]
    assert reply.in_reply_to_id == comment["id"] and reply.user.login == "nightshift[bot]"
    repo.get_pull(1).edit(body="better")
    assert repo.get_pull(1).body == "better"
    gh.merge(REPO, 1, by="alice")
    merged = repo.get_pull(1)
    assert merged.merged and merged.state == "closed" and merged.merged_by.login == "alice"
    assert (
        "return a + b"
        in subprocess.run(
            ["git", "--git-dir", str(gh.git_dir(REPO)), "show", "main:calc.py"], capture_output=True, text=True
        ).stdout
    )


def test_tokens_are_scoped_to_their_installation_and_expire(tmp_path: Path, remote: Path) -> None:
    with GitHubStandIn(tmp_path / "github", token_lifetime_s=1) as gh:
        build_world(gh, remote)
        gh.add_repo("other/lib", remote)
        other = gh.install("other", ["other/lib"])
        integration = GithubIntegration(auth=Auth.AppAuth(gh.app_id, gh.private_key_pem), base_url=gh.base_url)
        token = integration.get_access_token(INSTALLATION).token
        client = Github(auth=Auth.Token(token), base_url=gh.base_url)
        assert client.get_repo(REPO).full_name == REPO
        with pytest.raises(GithubException) as elsewhere:
            client.get_repo("other/lib")
        assert elsewhere.value.status == 404  # GitHub hides what a token cannot see
        assert Github(auth=Auth.Token(integration.get_access_token(other).token), base_url=gh.base_url).get_repo(
            "other/lib"
        )
        time.sleep(1.1)
        with pytest.raises(GithubException) as expired:
            client.get_repo(REPO)
        assert expired.value.status == 401
        with pytest.raises(GithubException) as wrong_key:
            Github(auth=Auth.AppAuth(gh.app_id, _another_key()), base_url=gh.base_url).get_repo(REPO)
        assert wrong_key.value.status == 401


def _another_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def test_git_over_http_needs_a_token_and_pushes_need_write(gh: GitHubStandIn, tmp_path: Path) -> None:
    url = f"{gh.base_url}/{REPO}.git"
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def git(*args: str, token: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        auth = []
        if token:
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            auth = ["-c", f"http.extraHeader=AUTHORIZATION: basic {basic}"]
        return subprocess.run(["git", *auth, *args], capture_output=True, text=True, env=env, cwd=cwd)

    assert git("ls-remote", url).returncode != 0  # private: no anonymous reads
    integration = GithubIntegration(auth=Auth.AppAuth(gh.app_id, gh.private_key_pem), base_url=gh.base_url)
    token = integration.get_access_token(INSTALLATION).token
    assert "refs/heads/main" in git("ls-remote", url, token=token).stdout
    work = tmp_path / "clone"
    assert git("clone", "-q", url, str(work), token=token).returncode == 0
    subprocess.run(
        ["git", "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "x"],
        cwd=work,
        check=True,
    )
    reader = gh.personal_token("tom")  # triage: may read, may not push
    refused = git("push", "-q", url, "HEAD:refs/heads/from-tom", token=reader, cwd=work)
    assert refused.returncode != 0 and "403" in refused.stderr
    assert git("push", "-q", url, "HEAD:refs/heads/from-app", token=token, cwd=work).returncode == 0
    assert "refs/heads/from-app" in git("ls-remote", url, token=token).stdout
    services = [(r.service, r.actor, r.status) for r in gh.git_requests]
    assert ("git-receive-pack", "nightshift[bot]", 200) in services
    assert ("git-receive-pack", "tom", 403) in services
