"""End to end on GitHub: the real PyGithub client against the GitHub stand-in, the scripted Anthropic stand-in as
the model. PR opened → one review on the right lines → new commit → only the new commits → no loop."""

import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _review_standin import ReviewingStandIn
from github import Auth, Github
from pydantic import SecretStr

from control_plane.config import Settings
from harness.anthropic_config import AnthropicConfig
from harness.anthropic_model import AnthropicModel
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use
from reviewer.cli import run_review
from reviewer.github import review_pull_request

BOT = "nightshift-bot"
REPO = "acme/app"
BASE = "import logging\n\nlog = logging.getLogger(__name__)\n\n\ndef load(path):\n    return open(path).read()\n"
FEATURE = BASE.replace(
    "    return open(path).read()\n",
    "    try:\n        return open(path).read()\n    except Exception:\n        pass\n\n\ndef size(path):\n"
    "    return len(load(path))\n",
)
MORE = FEATURE + "\n\ndef save(path, data):\n    try:\n        open(path, 'w').write(data)\n    except:\n        pass\n"


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "A"}
    env["GIT_COMMITTER_EMAIL"] = "a@x"
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


@dataclass
class World:
    gh: ReviewingStandIn
    client: Github
    work: Path
    """A clone that people (and the bot, for its fixes) push from."""
    model: AnthropicModel
    model_standin: AnthropicStandIn

    def push(self, branch: str, text: str, message: str) -> str:
        git(self.work, "checkout", "-q", branch)
        (self.work / "app.py").write_text(text)
        git(self.work, "commit", "-qam", message)
        git(self.work, "push", "-q", "origin", branch)
        return git(self.work, "rev-parse", "HEAD").strip()

    async def review(self, number: int, trigger: str = "opened"):  # type: ignore[no-untyped-def]
        return await review_pull_request(
            self.client.get_repo(REPO),
            number,
            git_dir=self.gh.git_dir(REPO),
            trigger=trigger,  # type: ignore[arg-type]
            model=self.model,
            bot_login=BOT,
        )

    def comments(self, number: int) -> list[tuple[int, str]]:
        return [(c["line"], c["body"]) for c in self.gh.review_comments(REPO, number)]  # type: ignore[misc]


NOTHING = Reply(tool_use("report_findings", {"findings": [], "summary": "Nothing to add."}))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q", "-b", "main")
    (src / "app.py").write_text(BASE)
    (src / ".nightshift").mkdir()
    (src / ".nightshift" / "review.md").write_text("Flag reads of whole files.\n")
    git(src, "add", ".")
    git(src, "commit", "-qm", "base")
    git(src, "checkout", "-q", "-b", "feature")
    (src / "app.py").write_text(FEATURE)
    git(src, "commit", "-qam", "feature")
    with ReviewingStandIn(tmp_path / "gh") as gh:
        gh.add_repo(REPO, src)
        gh.grant(REPO, BOT, "write")
        client = Github(auth=Auth.Token(gh.personal_token(BOT)), base_url=gh.base_url)
        work = tmp_path / "work"
        git(tmp_path, "clone", "-q", str(gh.git_dir(REPO)), str(work))
        scripts = [Script([NOTHING] * 10)]  # the default: every later review's model has nothing to add
        with AnthropicStandIn(*scripts, *_first_review_script()) as model_standin:
            model = AnthropicModel(AnthropicConfig(api_key="k", base_url=model_standin.base_url, max_retries=0))
            yield World(gh, client, work, model, model_standin)
            await model.close()


def _first_review_script() -> list[Script]:
    finding = {"path": "app.py", "line": 13, "severity": "warning", "message": "size() reads the whole file."}
    report = Reply(tool_use("report_findings", {"findings": [finding], "summary": "One risk."}))
    return [Script([report], key="[review:acme/app#1@")]


async def test_pr_opened_then_new_commit_then_same_head_again(world: World) -> None:
    pr = world.gh.open_pull(REPO, title="Load safely", head="feature", by="alice")
    head = pr["head"]["sha"]  # type: ignore[index]

    first = await world.review(1)

    assert first.review is not None and first.decision.reason == "whole pull request"
    assert [(r.user, r.commit_id) for r in world.gh.review_list] == [(BOT, head)]
    lines = world.comments(1)
    assert [line for line, _ in lines] == [9, 13]
    assert lines[0][1].startswith("🔴 **error** · `swallowed-exception`")
    assert lines[1][1].startswith("🟡 **warning** · `model`") and "reads the whole file" in lines[1][1]
    (status,) = world.gh.statuses
    assert (status.sha, status.state, status.context, status.creator) == (head, "failure", "nightshift/review", BOT)
    assert status.description.startswith("1 error, 1 warning, 0 info")
    model_request = world.model_standin.requests[0]
    assert "Flag reads of whole files." in str(model_request.system)

    new_head = world.push("feature", MORE, "add save")
    second = await world.review(1, "synchronize")

    assert second.decision.since == head and second.decision.reason.startswith("commits after")
    assert [r.commit_id for r in world.gh.review_list] == [head, new_head]
    assert [line for line, _ in world.comments(1)] == [9, 13, 20], "only the new commit's finding is added"
    assert "new commits only" in world.gh.review_list[-1].body

    again = await world.review(1, "mention")
    assert (again.review, again.decision.reason) == (None, f"{new_head[:12]} is already reviewed")
    assert len(world.gh.review_list) == 2


async def test_no_loop_on_the_bots_own_pull_request(world: World) -> None:
    git(world.work, "checkout", "-q", "-b", "nightshift/fix", "origin/feature")
    git(world.work, "push", "-q", "origin", "nightshift/fix")
    world.gh.open_pull(REPO, title="Nightshift: load", head="nightshift/fix", by=BOT)  # #1 is the bot's own PR
    await world.review(1)
    assert "@nightshift" not in " ".join(body for _, body in world.comments(1)), "a review never summons the bot"

    # Someone asks Nightshift to fix the finding; its session pushes the fix to the same branch.
    fixed = FEATURE.replace("    except Exception:\n        pass\n", "    except OSError:\n        return ''\n")
    fix_head = world.push("nightshift/fix", fixed, "fix review")
    fix_review = await world.review(1, "synchronize")
    assert fix_review.review is not None and fix_review.review.findings == []
    assert "nothing to report" in world.gh.review_list[-1].body

    # The bot's own review (and any event it causes) reaches the reviewer again for the same head: nothing happens.
    for trigger in ("synchronize", "review_requested", "mention"):
        outcome = await world.review(1, trigger)
        assert outcome.review is None
    assert [r.commit_id for r in world.gh.review_list][-1] == fix_head
    assert len(world.gh.review_list) == 2
    assert len(world.gh.statuses) == 2


async def test_review_pr_url_runs_the_pipeline_as_a_dry_run(world: World, tmp_path: Path) -> None:
    world.gh.open_pull(REPO, title="Load safely", head="feature", by="alice")
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path / "data",
            "github_token": SecretStr(world.gh.personal_token(BOT)),
            "github_api_url": world.gh.base_url,
        }
    )
    result = await run_review(
        settings, pr_url=f"https://github.com/{REPO}/pull/1", diff_file=None, repo=None, rules_only=True
    )
    assert [(f.path, f.line, f.rule) for f in result.findings] == [("app.py", 9, "swallowed-exception")]
    assert result.skipped_model  # rules only: the model part is said to be skipped
    assert world.gh.review_list == [] and world.gh.statuses == []  # a dry run posts nothing
