"""The push policy's pull-request case against the GitHub stand-in (real PyGithub, real git over HTTP): a session
may push to a branch it does not own only when GitHub says, at push time, that the branch is the head of the pull
request the session was started on, in the repository pushed to — and never to the default branch."""

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from github_world import REPO, build_world, push_branch
from pydantic import SecretStr
from redis.asyncio import Redis
from spine import marker, settings_for, wait_status, worker_running

from control_plane import keys
from control_plane.models import NewSession, Session
from control_plane.runtime import Runtime
from control_plane.sessions import create_session
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use
from integrations.testing.github_standin import GitHubStandIn

EDIT = [
    Reply(tool_use("edit_file", {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"})),
    Reply(tool_use("finish", {"summary": "add() adds"})),
]


@pytest.fixture
def model() -> Iterator[AnthropicStandIn]:
    with AnthropicStandIn() as standin:
        yield standin


@pytest.fixture
def gh(tmp_path: Path, remote: Path) -> Iterator[GitHubStandIn]:
    with GitHubStandIn(tmp_path / "github") as standin:
        build_world(standin, remote)
        yield standin


@pytest.fixture
async def rt(
    tmp_path: Path, redis_url: str, model: AnthropicStandIn, gh: GitHubStandIn, redis: Redis
) -> AsyncIterator[Runtime]:
    settings = settings_for(
        tmp_path,
        redis_url,
        model.base_url,
        github_app_id=gh.app_id,
        github_private_key=SecretStr(gh.private_key_pem),
        github_api_url=gh.base_url,
        github_write_interval_s=0.0,
    )
    async with Runtime.open(settings) as runtime:
        yield runtime


def git(gh: GitHubStandIn, *args: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(gh.git_dir(REPO)), *args], capture_output=True, text=True)
    return done.stdout.strip()


async def run_on(rt: Runtime, model: AnthropicStandIn, gh: GitHubStandIn, branch: str, number: int) -> Session:
    """A session started on `REPO#number` that works on `branch`, run to its end."""
    github = rt.github()
    assert github is not None
    tag = marker()
    model.register(Script(EDIT, key=tag))
    clone_url = str(gh.repo_json(REPO)["clone_url"])
    req = NewSession(
        repo=clone_url,
        prompt=f"{tag} make add() add",
        base=branch,
        branch=branch,
        source="github",
        requested_by="alice",
        origin=f"github:{REPO}#{number}",
    )
    session = await create_session(rt.store, req, max_prompt_bytes=100_000, credentials=github.credentials)
    async with worker_running(rt):
        return await wait_status(rt, session.id, {"finished", "failed", "cancelled"})


async def test_the_head_branch_of_the_sessions_pull_request_is_pushed(
    rt: Runtime, model: AnthropicStandIn, gh: GitHubStandIn
) -> None:
    push_branch(gh, REPO, "feature", {"README.md": "# calc, commutative\n"})
    pr = gh.open_pull(REPO, title="Commutative", head="feature", by="bob")
    session = await run_on(rt, model, gh, "feature", int(str(pr["number"])))
    assert session.status == "finished", session.summary
    assert "return a + b" in git(gh, "show", "feature:calc.py")


async def test_a_branch_github_does_not_name_as_the_pull_requests_head_is_refused(
    rt: Runtime, model: AnthropicStandIn, gh: GitHubStandIn
) -> None:
    push_branch(gh, REPO, "feature", {"README.md": "# calc, commutative\n"})
    elsewhere = push_branch(gh, REPO, "release", {"README.md": "# calc 1.0\n"})
    pr = gh.open_pull(REPO, title="Commutative", head="feature", by="bob")
    session = await run_on(rt, model, gh, "release", int(str(pr["number"])))
    assert session.status == "failed"
    assert "refused to push to 'release'" in session.summary and "('feature')" in session.summary
    assert git(gh, "rev-parse", "release") == elsewhere


async def test_a_record_edited_to_another_branch_after_the_start_is_refused(
    rt: Runtime, model: AnthropicStandIn, gh: GitHubStandIn, redis: Redis
) -> None:
    """Started rightly on a PR's branch; the record's branch is then pointed at main behind our back."""
    push_branch(gh, REPO, "feature", {"README.md": "# calc, commutative\n"})
    pr = gh.open_pull(REPO, title="Commutative", head="feature", by="bob")
    main = git(gh, "rev-parse", "main")
    github = rt.github()
    assert github is not None
    tag = marker()
    model.register(Script(EDIT, key=tag))
    req = NewSession(
        repo=str(gh.repo_json(REPO)["clone_url"]),
        prompt=f"{tag} make add() add",
        base="feature",
        branch="feature",
        source="github",
        origin=f"github:{REPO}#{pr['number']}",
    )
    session = await create_session(rt.store, req, max_prompt_bytes=100_000, credentials=github.credentials)
    await redis.hset(keys.session(session.id), "branch", json.dumps("main"))
    async with worker_running(rt):
        ended = await wait_status(rt, session.id, {"finished", "failed", "cancelled"})
    assert ended.status == "failed" and "refused to push to 'main'" in ended.summary
    assert git(gh, "rev-parse", "main") == main


async def test_a_pull_request_whose_head_is_the_default_branch_is_refused(
    rt: Runtime, model: AnthropicStandIn, gh: GitHubStandIn
) -> None:
    push_branch(gh, REPO, "release", {"README.md": "# calc 1.0\n"})
    main = git(gh, "rev-parse", "main")
    pr = gh.open_pull(REPO, title="Back-port", head="main", base="release", by="bob")
    session = await run_on(rt, model, gh, "main", int(str(pr["number"])))
    assert session.status == "failed"
    assert "it is the repository's default branch" in session.summary
    assert git(gh, "rev-parse", "main") == main


async def test_an_issue_is_no_pull_request(rt: Runtime, model: AnthropicStandIn, gh: GitHubStandIn) -> None:
    elsewhere = push_branch(gh, REPO, "feature", {"README.md": "# calc, commutative\n"})
    issue = gh.open_issue(REPO, "add() subtracts", "", by="tom")
    session = await run_on(rt, model, gh, "feature", int(str(issue["number"])))
    assert session.status == "failed" and "refused to push to 'feature'" in session.summary
    assert git(gh, "rev-parse", "feature") == elsewhere
