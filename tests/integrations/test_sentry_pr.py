"""A triage session on one of our GitHub repositories that fixed and tested the failing code ends in a pull request
whose description links the Sentry issue (the GitHub stand-in; the scripted model)."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from github_world import REPO
from sentry_world import CLIENT_SECRET, event_alert, headers
from spine import marker, wait_status, worker_running
from test_github_e2e import FIX, eventually, gh, github_settings, model

from control_plane.runtime import Runtime
from harness.testing.anthropic_standin import AnthropicStandIn, Script
from integrations.testing.github_standin import GitHubStandIn

__all__ = ["gh", "model"]  # fixtures


@pytest.fixture
async def rt(
    tmp_path: Path, redis_url: str, model: AnthropicStandIn, gh: GitHubStandIn, redis: object
) -> AsyncIterator[Runtime]:
    settings = github_settings(
        tmp_path,
        redis_url,
        model,
        gh,
        sentry_client_secret=CLIENT_SECRET,
        sentry_project_repos={"calc-api": f"{gh.base_url}/{REPO}.git"},
    )
    async with Runtime.open(settings) as runtime:
        yield runtime


async def test_triage_fix_becomes_a_pr_linking_the_sentry_issue(
    rt: Runtime, gh: GitHubStandIn, model: AnthropicStandIn
) -> None:
    tag = marker()
    model.register(Script(FIX, key=tag))
    raw = event_alert()
    raw["data"]["event"]["title"] = f"AssertionError {tag}"
    body = json.dumps(raw).encode()
    sentry = rt.sentry()
    assert sentry is not None
    transport = httpx.ASGITransport(app=rt.api())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.post("/webhooks/sentry", content=body, headers=headers(body))).status_code == 202
    await sentry.consumer.ensure_group()
    assert await sentry.consumer.step(block_ms=100)
    [session] = await rt.store.recent()
    async with worker_running(rt):
        await wait_status(rt, session.id, {"finished", "failed"})
        [pr] = await eventually(lambda: gh.pulls(REPO))
    assert "https://sentry.io/organizations/example-org/issues/1117540176/" in str(pr["body"])
    assert (await rt.store.get(session.id)).pr_url == pr["html_url"]
