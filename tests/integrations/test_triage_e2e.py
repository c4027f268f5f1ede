"""Auto-triage end to end, every integration at once: the GitHub stand-in (with git over HTTP), the Slack stand-in,
signed Sentry and generic webhook deliveries, a real worker and the scripted model (the stand-in replays scripted
turns; it is not a model).

A Sentry alert → a triage session that fixes and tests the code → the report as a new Slack thread AND a pull request
linking the Sentry issue; the alert again → no second session, a note on the ended one; a reply in the report thread
→ a follow-up run answered in that thread. A generic webhook whose destination is a GitHub issue → the report there."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from github_world import REPO
from sentry_world import CLIENT_SECRET, event_alert, headers
from slack_fixtures import SIGNING_SECRET, TOKEN, SlackDriver, slack_api
from spine import marker, wait_status, worker_running
from test_generic_webhooks import signed
from test_github_e2e import FIX, eventually, gh, github_settings, model

from control_plane.runtime import Runtime
from harness.events import Note, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use
from integrations.testing.github_standin import GitHubStandIn
from integrations.testing.slack_standin import BOT_USER, SlackStandIn, app_mention

__all__ = ["gh", "model", "slack_api"]  # fixtures

ONCALL = "C0ONCALL01"
HOOK_SECRET = "cron-hook-secret-31f9"


@pytest.fixture
async def rt(
    tmp_path: Path, redis_url: str, model: AnthropicStandIn, gh: GitHubStandIn, slack_api: SlackStandIn, redis: object
) -> AsyncIterator[Runtime]:
    issue = gh.open_issue(REPO, "Nightly flaky-test report", "The cron job reports here.", by="alice")
    hook = {
        "secret": HOOK_SECRET,
        "repo": f"{gh.base_url}/{REPO}.git",
        "prompt": "The nightly job found: {{ payload.finding }}. Explain it.",
        "github_issue": f"{REPO}#{issue['number']}",
    }
    settings = github_settings(
        tmp_path,
        redis_url,
        model,
        gh,
        slack_bot_token=TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api.base_url,
        sentry_client_secret=CLIENT_SECRET,
        sentry_project_repos={"calc-api": f"{gh.base_url}/{REPO}.git"},
        sentry_project_channels={"calc-api": ONCALL},
        webhooks={"nightly": hook},
    )
    async with Runtime.open(settings) as runtime:
        yield runtime


@pytest.fixture
async def http(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.api()), base_url="http://test") as client:
        yield client


async def test_alert_to_slack_report_and_pr_then_follow_up_in_the_report_thread(
    rt: Runtime, http: httpx.AsyncClient, gh: GitHubStandIn, model: AnthropicStandIn, slack_api: SlackStandIn
) -> None:
    tag = marker()
    follow_up = Reply(tool_use("finish", {"summary": f"{tag} It was introduced by the refactor in calc.py."}))
    model.register(Script([*FIX, follow_up], key=tag))
    raw = event_alert()
    raw["data"]["event"]["title"] = f"AssertionError {tag}"
    body = json.dumps(raw).encode()
    sentry = rt.sentry()
    assert sentry is not None
    await sentry.consumer.ensure_group()
    assert (await http.post("/webhooks/sentry", content=body, headers=headers(body))).status_code == 202
    assert await sentry.consumer.step(block_ms=100)
    [session] = await rt.store.recent()
    async with worker_running(rt):
        await wait_status(rt, session.id, {"finished", "failed"})
        [pr] = await eventually(lambda: gh.pulls(REPO))
        [report] = await eventually(
            lambda: [c for c in slack_api.calls_to("chat.postMessage") if c.args["channel"] == ONCALL]
        )
    assert (await rt.store.get(session.id)).status == "finished"
    assert "https://sentry.io/organizations/example-org/issues/1117540176/" in str(pr["body"])
    assert "thread_ts" not in report.args and str(pr["html_url"]) in report.args["text"]

    # The same issue fires again (a new event) after the triage ended: no second session, no new run, a note.
    again = json.dumps(event_alert()).encode()
    assert (await http.post("/webhooks/sentry", content=again, headers=headers(again))).status_code == 202
    assert await sentry.consumer.step(block_ms=100)
    assert [s.id for s in await rt.store.recent()] == [session.id]
    assert (await rt.store.get(session.id)).status == "finished"
    notes = [e.event.text for e in await rt.store.events(session.id) if isinstance(e.event, Note)]
    assert "Sentry issue 1117540176 fired again" in notes

    # Someone answers in the report thread: a follow-up in the same session, answered in that thread.
    [thread] = [m for m in slack_api.messages.values() if m.channel == ONCALL and m.thread_ts is None]
    said = slack_api.say(ONCALL, "U0SRE00001", f"<@{BOT_USER}> when did this start?", thread_ts=thread.ts)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.api()), base_url="http://test") as slack_http:
        driver = SlackDriver(rt, slack_api, slack_http)
        assert (await driver.event(app_mention(said))).status_code == 200
        assert await driver.handle_all() == 1
    asked = [e.event.text for e in await rt.store.events(session.id) if isinstance(e.event, UserMessage)]
    assert asked[-1].endswith("when did this start?")
    async with worker_running(rt):
        await wait_status(rt, session.id, {"finished", "failed"})
        final = await eventually(lambda: [m for m in slack_api.bot_messages(ONCALL, thread.ts) if "refactor" in m.text])
    assert final and [s.id for s in await rt.store.recent()] == [session.id]


async def test_generic_webhook_reports_on_its_github_issue(
    rt: Runtime, http: httpx.AsyncClient, gh: GitHubStandIn, model: AnthropicStandIn
) -> None:
    tag = marker()
    model.register(
        Script(
            [
                Reply(tool_use("read_file", {"path": "calc.py"})),
                Reply(tool_use("finish", {"summary": f"{tag} test_add fails because add() subtracts (calc.py:2)."})),
            ],
            key=tag,
        )
    )
    body = json.dumps({"finding": f"test_add failed 3 nights in a row {tag}"}).encode()
    assert (
        await http.post("/webhooks/generic/nightly", content=body, headers=signed(body, HOOK_SECRET))
    ).status_code == 202
    hooks = rt.webhooks()
    assert hooks is not None
    await hooks.consumer.ensure_group()
    assert await hooks.consumer.step(block_ms=100)
    [session] = await rt.store.recent()
    destination = rt.settings.webhooks["nightly"].github_issue
    assert destination is not None
    issue = int(destination.rsplit("#", 1)[1])
    async with worker_running(rt):
        await wait_status(rt, session.id, {"finished", "failed"})
        [comment] = await eventually(lambda: gh.issue_comments(REPO, issue))
    assert "calc.py:2" in str(comment["body"]) and str(comment["body"]).startswith("Done.")
    assert f"/sessions/{session.id}" in str(comment["body"])
