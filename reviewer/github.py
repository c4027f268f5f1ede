"""The GitHub shell around the pipeline: read the PR and what Nightshift already posted on it, decide, review,
post ONE review with inline comments, and set a commit status with the counts by severity.

PyGithub is synchronous: each burst of calls runs in a thread. The code itself is read from a local git repository
that has the PR's head and base commits (the control plane's mirror after fetching `refs/pull/N/head`): the reviewer
never needs a sandbox or the contents API."""

import asyncio
from pathlib import Path

from github.PullRequest import PullRequest
from github.Repository import Repository
from pydantic import BaseModel

from control_plane.git import git
from harness.model import Model
from reviewer import render
from reviewer.config import CONFIG_PATH, PROMPT_PATH, Trigger, load_review_config
from reviewer.diff import FileDiff, parse_diff, parse_patch
from reviewer.models import Review, Severity
from reviewer.pipeline import ReviewTarget, review
from reviewer.policy import Decision, decide
from reviewer.tree import GitTree

STATUS_CONTEXT = "nightshift/review"


class PriorState(BaseModel):
    reviewed_heads: list[str]
    posted: frozenset[str]

    @classmethod
    def empty(cls) -> "PriorState":
        return cls(reviewed_heads=[], posted=frozenset())


class PullFacts(BaseModel):
    title: str
    description: str
    head_sha: str
    base_sha: str
    draft: bool


class Outcome(BaseModel):
    decision: Decision
    review: Review | None = None
    review_id: int | None = None


async def review_pull_request(
    gh_repo: Repository,
    pr_number: int,
    *,
    git_dir: Path,
    trigger: Trigger,
    model: Model | None,
    bot_login: str,
    dry_run: bool = False,
) -> Outcome:
    """The entry point for webhooks (PR opened / ready / synchronize, review requested, `@nightshift review`).

    `git_dir` must contain the PR's head and base commits. Safe to call twice for one head: the second call sees
    the first review's marker and does nothing. `dry_run` (`nightshift review PR_URL`): review the whole PR whatever
    was posted before, and post nothing."""
    pr = await asyncio.to_thread(gh_repo.get_pull, pr_number)
    facts, prior = await asyncio.to_thread(_read_pull, pr, bot_login)
    base = GitTree(git_dir, facts.base_sha)  # the base's settings: a PR cannot switch its own review off
    config = load_review_config(await base.read(CONFIG_PATH))
    decision = decide(
        trigger, head_sha=facts.head_sha, draft=facts.draft, reviewed_heads=prior.reviewed_heads, config=config
    )
    if dry_run:
        decision, prior = Decision(review=True, reason="local run: whole PR, nothing posted"), PriorState.empty()
    if not decision.review:
        return Outcome(decision=decision)
    diff, diff_text = await asyncio.to_thread(_pull_diff, pr)
    target = ReviewTarget(
        label=f"{gh_repo.full_name}#{pr_number}",
        head_sha=facts.head_sha,
        diff=diff,
        diff_text=diff_text,
        title=facts.title,
        description=facts.description,
        only_lines=await _added_since(git_dir, decision.since, facts.head_sha),
        posted=prior.posted,
    )
    guidance = await base.read(PROMPT_PATH) or ""
    result = await review(target, GitTree(git_dir, facts.head_sha), config, model=model, guidance=guidance)
    review_id = None if dry_run else await asyncio.to_thread(_post, gh_repo, pr, result)
    return Outcome(decision=decision, review=result, review_id=review_id)


def _read_pull(pr: PullRequest, bot_login: str) -> tuple[PullFacts, PriorState]:
    facts = PullFacts(
        title=pr.title, description=pr.body or "", head_sha=pr.head.sha, base_sha=pr.base.sha, draft=pr.draft
    )
    mine = [r for r in pr.get_reviews() if r.user.login == bot_login]
    heads = [h for r in mine if (h := render.reviewed_head(r.body))]
    posted = {
        fp for c in pr.get_review_comments() if c.user.login == bot_login for fp in render.posted_fingerprints(c.body)
    }
    return facts, PriorState(reviewed_heads=heads, posted=frozenset(posted))


def _pull_diff(pr: PullRequest) -> tuple[list[FileDiff], str]:
    """The PR's files as parsed diffs, and as text for the model (GitHub's patches under ---/+++ headers)."""
    diffs, parts = [], []
    for f in pr.get_files():
        old = None if f.status == "added" else (f.previous_filename or f.filename)
        diffs.append(parse_patch(f.filename, f.patch or "", old_path=old, deleted=f.status == "removed"))
        parts.append(f"--- a/{old or '/dev/null'}\n+++ b/{f.filename}\n{f.patch or '(binary)'}")
    return diffs, "\n".join(parts)


async def _added_since(git_dir: Path, since: str | None, head: str) -> dict[str, frozenset[int]] | None:
    """Head lines added after the last reviewed head; None (the whole PR) after a force-push dropped that head."""
    if since is None:
        return None
    listed = await git("rev-list", head, cwd=git_dir, timeout_s=60)
    if since not in listed.split():
        return None
    return {d.path: frozenset(d.added) for d in parse_diff(await git("diff", since, head, cwd=git_dir))}


def _post(gh_repo: Repository, pr: PullRequest, result: Review) -> int:
    commit = gh_repo.get_commit(result.head_sha)
    comments = [{"path": c.path, "line": c.line, "side": c.side, "body": c.body} for c in result.comments]
    posted = pr.create_review(commit=commit, body=result.summary, event="COMMENT", comments=comments)
    commit.create_status(
        state="failure" if result.counts[Severity.error] else "success",
        description=status_line(result),
        context=STATUS_CONTEXT,
    )
    return posted.id


def status_line(result: Review) -> str:
    """GitHub caps a status description at 140 characters; this stays far below."""
    counts = ", ".join(f"{n} {s.value}" for s, n in result.counts.items())
    return f"{counts} ({'model skipped' if result.skipped_model else 'rules + model'})"
