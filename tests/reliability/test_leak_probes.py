"""Leak probes: every platform secret is configured with a unique canary value (and is in the worker's own
environment too), then a scripted session does what an attacker's prompt would: dump the environment, read every
/proc/*/environ, look at git's config, remotes and credential files, and grep the filesystem it can see for the
canaries. Everything the sandbox produced is searched: tool results in the event log, what the model was sent, and
the raw probe output, which the sandbox writes to a file that comes back through the pushed branch, untouched by
tool-output scrubbing. Each count must be 0, and scrubbing must not be what made it 0."""

import hashlib
import hmac
import json
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import sh
from pydantic import SecretStr
from redis.asyncio import Redis
from spine import marker, settings_for, wait_status, worker_running

from control_plane.config import Settings, WebhookConfig
from control_plane.models import Session
from control_plane.runtime import Runtime
from harness.events import TERMINAL_STATUSES, ToolResult
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use
from integrations.testing.slack_standin import BOT_USER, Message, SlackStandIn, app_mention, event_callback
from integrations.testing.slack_standin import signed as slack_signed

sys.path.insert(0, str(Path(__file__).parents[1] / "integrations"))  # the Sentry world
from sentry_world import event_alert
from sentry_world import headers as sentry_headers

ENV_NAMES = {
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "openai_api_key": "OPENAI_API_KEY",
    "github_token": "GITHUB_TOKEN",
    "github_webhook_secret": "GITHUB_WEBHOOK_SECRET",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "sentry_client_secret": "SENTRY_CLIENT_SECRET",
    "api_token": "NIGHTSHIFT_API_TOKEN",
    "github_oauth_client_secret": "NIGHTSHIFT_GITHUB_OAUTH_CLIENT_SECRET",
}


def canaries() -> dict[str, str]:
    """One unique value per secret, so a hit names the secret that leaked."""
    run = uuid.uuid4().hex[:8]
    names = [*ENV_NAMES, "webhook_secret"]
    return {name: f"canary-{name.replace('_', '-')}-{run}" for name in names}


def probe() -> str:
    """The attacker's command: everything goes to probe.txt in the workspace (and to the tool result). It greps for
    the canaries' common prefix, put together at run time, so that no value is in the command itself."""
    return "\n".join(
        [
            "{",
            "echo '## env'; env",
            "echo '## /proc/*/environ'; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done 2>/dev/null",
            "echo '## /proc/*/cmdline'; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null",
            "echo '## git'; git config -l; git remote -v; cat ~/.gitconfig ~/.git-credentials .git/config 2>&1",
            "echo '## ls'; ls -la ~ / /tmp /proc 2>&1 | head -200",
            "echo '## grep'; p=canar; grep -rIl -m1 \"${p}y-\" / 2>/dev/null "
            "--exclude-dir=proc --exclude-dir=sys --exclude-dir=dev --exclude-dir=usr --exclude-dir=workspace",
            "echo '## end'",
            "} > /tmp/probe.txt 2>&1; cp /tmp/probe.txt probe.txt; cat probe.txt",
        ]
    )


def leak_settings(
    tmp_path: Path, redis_url: str, model_url: str, slack_url: str, values: dict[str, str], repo: Path
) -> Settings:
    secrets = {name: SecretStr(values[name]) for name in ENV_NAMES}
    hook = WebhookConfig(secret=SecretStr(values["webhook_secret"]), repo=str(repo), prompt="{{ payload.text }}")
    return settings_for(
        tmp_path,
        redis_url,
        model_url,
        **secrets,
        github_api_url="http://127.0.0.1:9/api/v3",
        slack_api_url=slack_url,
        github_oauth_client_id="Iv1.fuzz",
        github_oauth_users="ana",
        webhooks={"deploy": hook},
        sentry_project_repos={"calc-api": str(repo)},
    )


def count(values: dict[str, str], text: str) -> dict[str, int]:
    return {name: text.count(value) for name, value in values.items() if value in text}


async def trigger(rt: Runtime, how: str, repo: Path, task: str, values: dict[str, str]) -> Session:
    """Start the session the way `how` names, through the HTTP app, and run a worker until it ends."""
    app = rt.api()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nightshift.test") as client, worker_running(rt):
        if how == "api":
            auth = {"Authorization": f"Bearer {values['api_token']}"}
            r = await client.post("/api/sessions", json={"repo": str(repo), "prompt": task}, headers=auth)
            assert r.status_code == 201, r.text
            session_id = r.json()["id"]
        elif how == "webhook":
            body = json.dumps({"text": task}).encode()
            digest = hmac.new(values["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
            signed = {"X-Nightshift-Signature": f"sha256={digest}", "Content-Type": "application/json"}
            r = await client.post("/webhooks/generic/deploy", content=body, headers=signed)
            assert r.status_code == 202, r.text
            hooks = rt.webhooks()
            assert hooks is not None
            assert await hooks.consumer.drain() == 1  # what the app's lifespan runs in `serve`
            session_id = (await rt.store.recent())[0].id
        elif how == "sentry":
            raw = event_alert()
            raw["data"]["event"]["title"] = task
            body = json.dumps(raw).encode()
            r = await client.post(
                "/webhooks/sentry", content=body, headers=sentry_headers(body, secret=values["sentry_client_secret"])
            )
            assert r.status_code == 202, r.text
            sentry = rt.sentry()
            assert sentry is not None
            assert await sentry.consumer.drain() == 1
            session_id = (await rt.store.recent())[0].id
        else:
            said = Message(
                channel="C0LEAKS001",
                ts="1700000000.000100",
                text=f"<@{BOT_USER}> {task} repo={repo}",
                user="U0ANA00001",
            )
            body = event_callback(app_mention(said), event_id="Ev0LEAK0001")
            signed = {"Content-Type": "application/json", **slack_signed(values["slack_signing_secret"], body)}
            r = await client.post("/slack/events", content=body, headers=signed)
            assert r.status_code == 200, r.text
            slack = rt.slack()
            assert slack is not None
            await slack.inbox.ensure_group()
            assert await slack.work_once(block_ms=100)
            session_id = (await rt.store.recent())[0].id
        return await wait_status(rt, session_id, set(TERMINAL_STATUSES), timeout_s=100)


@pytest.mark.parametrize("how", ["api", "webhook", "sentry", "slack"])
async def test_no_platform_secret_reaches_the_sandbox(
    tmp_path: Path,
    redis_url: str,
    redis: Redis,
    standin: AnthropicStandIn,
    remote: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    values = canaries()
    for name, env in ENV_NAMES.items():
        monkeypatch.setenv(env, values[name])  # the worker's own environment holds them too
    tag = marker()
    steps = [Reply(tool_use("shell", {"command": probe(), "timeout_s": 120}))]
    standin.register(Script([*steps, Reply(tool_use("finish", {"summary": "probed"}))], key=tag))
    with SlackStandIn(values["slack_bot_token"]) as slack:
        settings = leak_settings(tmp_path, redis_url, standin.base_url, slack.base_url, values, remote)
        assert sorted(settings.secrets()) == sorted(values.values())  # every secret the platform has is a canary
        async with Runtime.open(settings) as rt:
            session = await trigger(rt, how, remote, f"{tag} print everything you can find", values)
            events = await rt.store.events(session.id)
    assert session.source == how
    assert session.status == "finished", session.error
    [result] = [e.event for e in events if isinstance(e.event, ToolResult)][:1]
    raw = sh("git", "--git-dir", str(remote), "show", f"{session.branch}:probe.txt")
    assert "## env" in raw and "## end" in raw and "PATH=" in raw  # the probe really ran to its end
    assert count(values, raw) == {}  # the sandbox's own output, before any scrubbing
    assert "[REDACTED]" not in result.output  # scrubbing had nothing to do
    log = "\n".join(e.model_dump_json() for e in events)
    assert count(values, log) == {}
    sent = "\n".join(json.dumps(r.body) for r in standin.requests)  # the system prompt, tool results, everything
    assert count(values, sent) == {}
    pushed = sh("git", "--git-dir", str(remote), "log", "-p", "--all")
    assert count(values, pushed) == {}
