"""`nightshift review PR_URL` and `nightshift review --diff FILE [--repo PATH]`: run the pipeline locally and print
the findings; nothing is posted. The click command itself lives in control_plane/cli.py (the entrypoint)."""

import asyncio
import re
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from control_plane.config import Settings
from control_plane.git import Mirrors
from harness.errors import ConfigError
from harness.model import Model
from integrations.github.auth import GitHubAuth
from integrations.github.config import GitHubConfig
from reviewer.github import review_pull_request
from reviewer.local import review_diff
from reviewer.models import Review, Severity

_PR_URL = re.compile(r"^https?://[^/]+/(?:api/v3/repos/)?([^/]+)/([^/]+)/pulls?/(\d+)")
_STYLE = {Severity.error: "red", Severity.warning: "yellow", Severity.info: "blue"}


async def run_review(
    settings: Settings, *, pr_url: str | None, diff_file: Path | None, repo: Path | None, rules_only: bool
) -> Review:
    model = None if rules_only or settings.anthropic_api_key is None else _model(settings)
    try:
        if diff_file is not None:
            return await review_diff(diff_file, repo, model)
        assert pr_url is not None
        return await _review_url(settings, pr_url, model)
    finally:
        if model is not None:
            await model.close()


def print_review(result: Review, console: Console) -> None:
    for f in result.findings:
        console.print(
            f"[{_STYLE[f.severity]}]{f.severity.value:<7}[/] {escape(f.path)}:{f.line} [bold]{f.rule}[/bold] "
            f"{escape(f.message)}"
        )
        if f.suggestion is not None:
            console.print(f"        suggestion: {escape(f.suggestion) or '(delete the line)'}")
    counts = ", ".join(f"{n} {s.value}" for s, n in result.counts.items())
    console.print(f"\n{counts}; {len(result.comments)} would be inline comments")
    if result.skipped_model:
        console.print(f"[dim]{escape(result.skipped_model)}: deterministic rules only[/dim]")


def _model(settings: Settings):  # type: ignore[no-untyped-def]
    from harness.anthropic_model import AnthropicModel  # the SDK takes a second to import: only when needed

    return AnthropicModel(settings.anthropic())


async def _review_url(settings: Settings, url: str, model: Model | None) -> Review:
    m = _PR_URL.match(url)
    if m is None:
        raise ConfigError(f"not a pull request URL: {url!r} (expected https://github.com/OWNER/REPO/pull/N)")
    full_name, number = f"{m[1]}/{m[2]}", int(m[3])
    config = GitHubConfig.from_settings(settings)
    if config is None:
        raise ConfigError("reviewing a pull request needs GITHUB_TOKEN or a GitHub App (GITHUB_APP_ID + key)")
    auth = GitHubAuth(config)
    try:
        installation = await asyncio.to_thread(auth.installation_for, full_name)
        client = auth.client(installation)
        mirror = await Mirrors(settings.data_dir / "mirrors", credentials=auth).refresh(
            f"{config.web_url}/{full_name}.git", refs=[f"refs/pull/{number}/head"]
        )
        outcome = await review_pull_request(
            client.get_repo(full_name),
            number,
            git_dir=mirror,
            trigger="mention",
            model=model,
            bot_login="",
            dry_run=True,
        )
    finally:
        auth.close()
    assert outcome.review is not None, "a dry run always reviews"
    return outcome.review
