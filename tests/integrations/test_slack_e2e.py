"""End to end: a mention in Slack, a session run by a worker with the scripted model (the stand-in replays
scripted turns; it is not a model), the one status message edited as the run goes, and the final message."""

import asyncio
import threading
from pathlib import Path

import httpx
from redis.asyncio import Redis
from slack_fixtures import ANA, CHANNEL, PUBLIC_URL, SIGNING_SECRET, TOKEN, SlackDriver, slack, slack_api, slack_rt
from spine import marker, settings_for, wait_status, worker_running

from control_plane.runtime import Runtime
from harness.events import TERMINAL_STATUSES
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use
from integrations.testing.github_standin import GitHubStandIn
from integrations.testing.slack_standin import BOT_USER, Message, SlackStandIn, app_mention

__all__ = ["slack", "slack_api", "slack_rt"]  # fixtures


def fix_script(tag: str, running_shown: threading.Event) -> Script:
    def after_status_shown(req: RecordedRequest) -> Reply:
        # Runs on the stand-in's thread: hold the run until the test has seen the status message say "running".
        assert running_shown.wait(20), "the status message never showed the running session"
        return Reply(tool_use("edit_file", {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}))

    return Script(
        [
            Reply("Let me look.", tool_use("read_file", {"path": "calc.py"})),
            after_status_shown,
            Reply(tool_use("finish", {"summary": "add() now adds.\n```\nreturn a + b\n```"})),
        ],
        key=tag,
    )


async def run_from_slack(slack: SlackDriver, repo: str, tag: str, running_shown: threading.Event) -> tuple[str, str]:
    """Mention the bot, run a worker until the session ends; returns (session id, thread ts)."""
    said = slack.api.say(CHANNEL, ANA, f"<@{BOT_USER}> {tag} make add() add repo={repo}")
    assert (await slack.event(app_mention(said))).status_code == 200
    await slack.handle_all()
    [session] = await slack.sessions()
    status = slack.integration.status
    async with worker_running(slack.rt):
        async with asyncio.timeout(60):
            while (await slack.rt.store.get(session.id)).status not in TERMINAL_STATUSES:
                await status.round()
                [status_message] = slack.api.bot_messages(CHANNEL, said.ts)[:1]
                if "Running" in status_message.text and "steps" in status_message.text:
                    running_shown.set()
                await asyncio.sleep(0.06)  # past the status lease, so the next round may edit
        await wait_status(slack.rt, session.id, set(TERMINAL_STATUSES))
        await wait_for_final(slack.api, said)
    return session.id, said.ts


async def wait_for_final(api: SlackStandIn, said: Message) -> None:
    async with asyncio.timeout(30):
        while len(api.bot_messages(CHANNEL, said.ts)) < 2:
            await asyncio.sleep(0.05)


async def test_a_mention_runs_to_a_final_message_with_the_branch(
    slack: SlackDriver, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, running_shown = marker(), threading.Event()
    standin.register(fix_script(tag, running_shown))
    session_id, thread_ts = await run_from_slack(slack, str(remote), tag, running_shown)
    session = await slack.rt.store.get(session_id)
    assert session.status == "finished", session.error
    status_message, final = slack.api.bot_messages(CHANNEL, thread_ts)
    assert status_message.edits >= 2  # running, then finished: edited in place, never a new message per step
    assert status_message.text.startswith(":white_check_mark: Finished")
    assert f"{PUBLIC_URL}/sessions/{session_id}" in final.text
    assert f"Branch `{session.branch}`" in final.text
    assert f"${session.cost_usd:.2f}" in final.text
    assert "add() now adds.\n```\nreturn a + b\n```" in final.text  # code stays a code block
    assert len(slack.api.calls_to("chat.postMessage")) == 2  # the status message and the final one: no spam


async def test_the_final_message_links_the_pull_request_the_github_integration_opened(
    tmp_path: Path, redis_url: str, redis: Redis, standin: AnthropicStandIn, slack_api: SlackStandIn, remote: Path
) -> None:
    with GitHubStandIn(tmp_path / "github") as gh:
        gh.add_repo("acme/calc", remote)
        gh.grant("acme/calc", "ana", "write")
        settings = settings_for(
            tmp_path,
            redis_url,
            standin.base_url,
            public_url=PUBLIC_URL,
            github_token=gh.personal_token("ana"),
            github_api_url=gh.base_url,
            slack_bot_token=TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack_api.base_url,
            slack_status_interval_s=0.05,
            slack_github_logins={ANA: "ana"},
        )
        async with Runtime.open(settings) as rt:
            transport = httpx.ASGITransport(app=rt.api())
            async with httpx.AsyncClient(transport=transport, base_url="http://nightshift.test") as http:
                driver = SlackDriver(rt, slack_api, http)
                tag, running_shown = marker(), threading.Event()
                standin.register(fix_script(tag, running_shown))
                session_id, thread_ts = await run_from_slack(driver, "acme/calc", tag, running_shown)
                session = await rt.store.get(session_id)
        [pull] = gh.pulls("acme/calc")
        assert session.requested_by == "ana"
        assert session.pr_url == pull["html_url"]
        _, final = slack_api.bot_messages(CHANNEL, thread_ts)
        assert f"Pull request: {pull['html_url']}" in final.text
