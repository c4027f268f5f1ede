"""Every webhook source delivered 2-5 times, concurrently, to two `nightshift serve` processes on one Redis: Slack
retries (X-Slack-Retry-Num, same event_id), GitHub redeliveries (the same X-GitHub-Delivery, and new ones carrying
the same comment), Sentry repeats (the same Request-ID, and new ones for the same Sentry issue) and a generic hook
(the same delivery id, then a new one with the same origin). Each distinct event starts exactly one session, and no
copy becomes a follow-up message either."""

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_processes import ApiProcess, write_config
from redis.asyncio import Redis
from spine import SECRET

from control_plane import keys
from control_plane.store import SessionStore
from harness.events import UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use
from integrations.signatures import hex_digest
from integrations.testing.github_standin import GitHubStandIn
from integrations.testing.slack_standin import BOT_USER, SlackStandIn, app_mention, event_callback
from integrations.testing.slack_standin import signed as slack_signed

sys.path.insert(0, str(Path(__file__).parents[1] / "integrations"))  # the GitHub and Sentry worlds
from github_world import REPO, WEBHOOK_SECRET, build_world, issue_comment, signed
from sentry_world import CLIENT_SECRET, event_alert
from sentry_world import headers as sentry_headers

SLACK_SECRET, SLACK_TOKEN, CHANNEL, ANA = "slack-signing-secret-5e2a", "xoxb-1-2-dupes", "C0DUPES001", "U0ANA00001"
HOOK_SECRET = "generic-hook-secret-91c3"
INTAKE_STREAMS = [keys.GITHUB_DELIVERIES, keys.SLACK_EVENTS, keys.SENTRY_ALERTS, keys.WEBHOOK_DELIVERIES]


@pytest.fixture
def gh(tmp_path: Path, remote: Path) -> Iterator[GitHubStandIn]:
    with GitHubStandIn(tmp_path / "github") as standin:
        build_world(standin, remote)
        yield standin


@pytest.fixture
def slack_api() -> Iterator[SlackStandIn]:
    with SlackStandIn(SLACK_TOKEN) as api:
        yield api


def config(gh: GitHubStandIn, slack_api: SlackStandIn, remote: Path) -> str:
    return f"""
public_url = "https://nightshift.example"
github_app_id = {gh.app_id}
github_private_key = {json.dumps(gh.private_key_pem)}
github_webhook_secret = "{WEBHOOK_SECRET}"
github_api_url = "{gh.base_url}"
github_write_interval_s = 0.0
slack_bot_token = "{SLACK_TOKEN}"
slack_signing_secret = "{SLACK_SECRET}"
slack_api_url = "{slack_api.base_url}"
sentry_client_secret = "{CLIENT_SECRET}"
sentry_project_repos = {{ "calc-api" = "{remote}" }}

[webhooks.grafana]
secret = "{HOOK_SECRET}"
repo = "{remote}"
prompt = "Alert {{{{ payload.title }}}}"
origin = "payload.key"
"""


def github_copies(gh: GitHubStandIn, copies: int) -> list[tuple[str, bytes, dict[str, str]]]:
    gh.open_issue(REPO, "add() subtracts", "2 + 3 gives -1", by="tom")
    asked = gh.comment(REPO, 1, "@nightshift please fix this", by="alice")
    payload = issue_comment(gh, 1, asked)
    body, headers = signed("issue_comment", payload)
    redelivered = [signed("issue_comment", payload) for _ in range(copies // 2)]  # new delivery ids, same comment
    same = [(body, headers)] * (copies - len(redelivered))
    return [("/webhooks/github", b, h) for b, h in [*same, *redelivered]]


def slack_copies(slack_api: SlackStandIn, remote: Path, copies: int) -> list[tuple[str, bytes, dict[str, str]]]:
    said = slack_api.say(CHANNEL, ANA, f"<@{BOT_USER}> make add() add repo={remote}")
    body = event_callback(app_mention(said), event_id="Ev0DUPES001")
    retries = [None, *range(1, copies)]  # the first delivery, then Slack's retries
    return [
        ("/slack/events", body, {"Content-Type": "application/json", **slack_signed(SLACK_SECRET, body, retry=r)})
        for r in retries
    ]


def sentry_copies(copies: int) -> list[tuple[str, bytes, dict[str, str]]]:
    body = json.dumps(event_alert(issue_id="4242")).encode()
    first = sentry_headers(body)
    fresh = [sentry_headers(body) for _ in range(copies // 2)]  # a new Request-ID each, the same Sentry issue
    return [("/webhooks/sentry", body, h) for h in [*[first] * (copies - len(fresh)), *fresh]]


def generic_copies(copies: int) -> list[tuple[str, bytes, dict[str, str]]]:
    def delivery(name: str) -> dict[str, str]:
        signature = "sha256=" + hex_digest(HOOK_SECRET.encode(), body)
        return {"content-type": "application/json", "x-nightshift-signature": signature, "x-nightshift-delivery": name}

    body = json.dumps({"title": "HighErrorRate", "key": "group-1"}).encode()
    names = ["d-1"] * (copies - 1) + ["d-2"]  # the sender's retries, then a new delivery for the same origin
    return [("/webhooks/generic/grafana", body, delivery(n)) for n in names]


async def deliver_all(apis: list[ApiProcess], copies: list[tuple[str, bytes, dict[str, str]]]) -> list[int]:
    """Every copy at once, alternating between the API processes."""
    async with httpx.AsyncClient(timeout=30) as http:
        sent = [
            http.post(apis[i % len(apis)].url + path, content=body, headers=headers)
            for i, (path, body, headers) in enumerate(copies)
        ]
        return [r.status_code for r in await asyncio.gather(*sent)]


async def intake_settled(redis: Redis, sessions: int) -> None:
    """Every accepted delivery handled (entries leave their stream once handled) and the sessions created."""
    async with asyncio.timeout(90):
        while sum([await redis.xlen(s) for s in INTAKE_STREAMS]) or await redis.zcard(keys.SESSIONS) < sessions:
            await asyncio.sleep(0.1)


async def test_each_distinct_event_starts_one_session(
    tmp_path: Path, redis_url: str, redis: Redis, remote: Path, gh: GitHubStandIn, slack_api: SlackStandIn
) -> None:
    with AnthropicStandIn(Script([Reply(tool_use("finish", {"summary": "done"})) for _ in range(50)])) as model:
        data_dir = tmp_path / "data"
        write_config(data_dir, config(gh, slack_api, remote))
        env = {
            "REDIS_URL": redis_url,
            "NIGHTSHIFT_DATA_DIR": str(data_dir),
            "ANTHROPIC_API_KEY": SECRET,
            "ANTHROPIC_BASE_URL": model.base_url,
        }
        apis = [ApiProcess(env, tmp_path / "serve.log") for _ in range(2)]
        try:
            for api in apis:
                await asyncio.to_thread(api.wait_ready)
            copies = [*github_copies(gh, 5), *slack_copies(slack_api, remote, 4), *sentry_copies(3), *generic_copies(4)]
            statuses = await deliver_all(apis, copies)
            await intake_settled(redis, 4)
        finally:
            for api in apis:
                api.stop()
        store = SessionStore(redis)
        sessions = await store.recent(limit=100)
        messages = {s.id: [e for e in await store.events(s.id) if isinstance(e.event, UserMessage)] for s in sessions}
    assert set(statuses) <= {200, 202}, statuses
    assert sorted(s.source for s in sessions) == ["github", "sentry", "slack", "webhook"]
    assert Counter(s.origin for s in sessions).most_common(1)[0][1] == 1
    # Copies add nothing; the generic hook's new delivery id is a new event of the same origin: a follow-up.
    expected = {"github": 1, "sentry": 1, "slack": 1, "webhook": 2}
    assert {s.source: len(messages[s.id]) for s in sessions} == expected
