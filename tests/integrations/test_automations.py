"""Triage automations (a Sentry project, a generic webhook): listed, paused and resumed through the API and the CLI;
three failed sessions in a row pause one and say so in Slack; at most N of one automation's sessions run at once, even
with two processes taking deliveries; repeats of a Sentry issue on a running triage are merged into one note."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sentry_world import CLIENT_SECRET, event_alert, headers
from slack_fixtures import SIGNING_SECRET, TOKEN, slack_api
from spine import marker, settings_for, wait_status, worker_running
from test_generic_webhooks import signed

from control_plane import keys
from control_plane.models import NewSession
from control_plane.runtime import Runtime
from harness.events import TERMINAL_STATUSES, Note, UserMessage
from harness.testing.anthropic_standin import AnthropicStandIn, ApiError, Script
from integrations.sentry import Sentry
from integrations.streams import Deferred
from integrations.testing.slack_standin import SlackStandIn
from integrations.triage import ReportTo, Started

__all__ = ["slack_api"]  # fixture

ONCALL = "C0ONCALL01"
HOOK_SECRET = "pager-hook-secret-5c2a"


@pytest.fixture
async def rt(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, redis: Redis, remote: Path, slack_api: SlackStandIn
) -> AsyncIterator[Runtime]:
    hook = {"secret": HOOK_SECRET, "repo": str(remote), "prompt": "{{ payload.task }}", "origin": "payload.incident"}
    settings = settings_for(
        tmp_path,
        redis_url,
        standin.base_url,
        slack_bot_token=TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api.base_url,
        sentry_client_secret=CLIENT_SECRET,
        sentry_project_repos={"calc-api": str(remote)},
        sentry_project_channels={"calc-api": ONCALL},
        sentry_max_concurrent=3,
        webhooks={"pager": hook | {"max_concurrent": 1}},
    )
    async with Runtime.open(settings) as runtime:
        sentry = runtime.sentry()
        assert sentry is not None
        sentry.consumer.reclaim_after_ms = 20  # deferred alerts come back quickly in tests
        yield runtime


@pytest.fixture
async def http(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=rt.api())
    token = {"authorization": f"Bearer {rt.api_token()}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=token) as client:
        yield client


def sentry_of(rt: Runtime) -> Sentry:
    sentry = rt.sentry()
    assert sentry is not None
    return sentry


async def alert(rt: Runtime, http: httpx.AsyncClient, issue: str, title: str = "ZeroDivisionError") -> None:
    """Deliver one signed alert for Sentry issue `issue` and let the consumer take it."""
    raw = event_alert(issue)
    raw["data"]["event"]["title"] = title
    body = json.dumps(raw).encode()
    assert (await http.post("/webhooks/sentry", content=body, headers=headers(body))).status_code == 202
    await sentry_of(rt).consumer.ensure_group()
    assert await sentry_of(rt).consumer.step(block_ms=100)


async def test_pause_and_resume_through_the_api(rt: Runtime, http: httpx.AsyncClient) -> None:
    listed = (await http.get("/api/automations")).json()
    assert [(a["id"], a["state"]["paused"]) for a in listed] == [("sentry:calc-api", False), ("webhook:pager", False)]
    assert (await http.post("/api/automations/sentry:nope/pause", json={})).status_code == 404
    assert (await http.get("/api/automations", headers={"authorization": "Bearer wrong"})).status_code == 401

    paused = await http.post("/api/automations/sentry:calc-api/pause", json={"reason": "deploy freeze", "by": "ana"})
    assert paused.status_code == 200 and paused.json()["state"]["paused_reason"] == "deploy freeze (ana)"
    await alert(rt, http, "501")
    assert await rt.store.recent() == []  # acknowledged and counted, not run
    [state] = [a["state"] for a in (await http.get("/api/automations")).json() if a["id"] == "sentry:calc-api"]
    assert state["paused"] and state["skipped_while_paused"] == 1

    resumed = await http.post("/api/automations/sentry:calc-api/resume")
    assert resumed.status_code == 200 and not resumed.json()["state"]["paused"]
    await alert(rt, http, "502")
    [session] = await rt.store.recent()
    assert session.origin == "sentry:502"
    [state] = [a["state"] for a in (await http.get("/api/automations")).json() if a["id"] == "sentry:calc-api"]
    assert state["last_session_id"] == session.id


def nightshift(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cli = str(Path(sys.executable).parent / "nightshift")
    return subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_pause_and_resume_from_the_cli(tmp_path: Path, remote: Path, redis_url: str) -> None:
    hook = json.dumps({"pager": {"secret": "s", "repo": str(remote), "prompt": "{{ payload.task }}"}})
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "d"),
        "REDIS_URL": redis_url,
        "NIGHTSHIFT_WEBHOOKS": hook,
        "COLUMNS": "200",
    }
    paused = nightshift("automations", "pause", "webhook:pager", "--reason", "noisy", "--as", "ana", env=env)
    assert paused.returncode == 0, paused.stderr
    assert "paused: noisy (ana)" in paused.stdout
    listed = nightshift("automations", "list", env=env)
    assert "webhook:pager" in listed.stdout and "paused: noisy (ana)" in listed.stdout
    unknown = nightshift("automations", "resume", "webhook:other", env=env)
    assert unknown.returncode == 2 and "no automation 'webhook:other' (known: webhook:pager)" in unknown.stderr
    resumed = nightshift("automations", "resume", "webhook:pager", env=env)
    assert resumed.returncode == 0 and "active" in resumed.stdout


async def test_three_failed_triages_in_a_row_pause_the_automation_and_slack_hears(
    rt: Runtime, http: httpx.AsyncClient, standin: AnthropicStandIn, slack_api: SlackStandIn
) -> None:
    tags = [marker() for _ in range(3)]
    for tag in tags:  # the model refuses every request: each triage session fails
        standin.register(Script([ApiError(400, "invalid_request_error", "prompt is too long")], key=tag))
    for number, tag in enumerate(tags):
        await alert(rt, http, str(600 + number), title=f"KeyError {tag}")
    sessions = await rt.store.recent()
    assert len(sessions) == 3
    async with worker_running(rt, concurrency=3):
        for s in sessions:
            assert (await wait_status(rt, s.id, set(TERMINAL_STATUSES))).status == "failed"
        async with asyncio.timeout(30):
            while not [c for c in slack_api.calls_to("chat.postMessage") if "paused itself" in c.args["text"]]:
                await asyncio.sleep(0.05)
    [notice] = [c for c in slack_api.calls_to("chat.postMessage") if "paused itself" in c.args["text"]]
    assert notice.args["channel"] == ONCALL
    assert "`sentry:calc-api`" in notice.args["text"] and "3 failures in a row" in notice.args["text"]
    assert "nightshift automations resume sentry:calc-api" in notice.args["text"]

    await alert(rt, http, "700")  # paused: nothing starts
    assert len(await rt.store.recent()) == 3
    state = await rt.automations().state("sentry:calc-api")
    assert state.paused and state.skipped_while_paused == 1 and state.consecutive_failures == 3


async def test_a_success_resets_the_count(rt: Runtime) -> None:
    automations = rt.automations()
    for _ in range(2):
        assert not await automations.record("webhook:pager", failed=True, why="boom")
    assert not await automations.record("webhook:pager", failed=False, why="")
    for _ in range(2):
        assert not await automations.record("webhook:pager", failed=True, why="boom")
    assert await automations.record("webhook:pager", failed=True, why="boom")  # the third in a row
    assert not await automations.record("webhook:pager", failed=True, why="boom")  # already paused: said once
    assert (await automations.state("webhook:pager")).paused


async def test_two_processes_never_both_take_the_last_slot(rt: Runtime, remote: Path) -> None:
    # Two starters, as two API processes would have, race for one webhook's single slot with different incidents.
    # Creating a session takes a while (the repository is checked with git), so without the lock both would count
    # no running session and start one each.
    first, second = rt._triage_starter(), rt._triage_starter()

    async def start(starter_index: int) -> str:
        starter = (first, second)[starter_index]
        req = NewSession(repo=str(remote), prompt=f"incident {starter_index}", origin=f"webhook:pager:{starter_index}")
        try:
            result = await starter.start("webhook:pager", req, limit=1, report=ReportTo())
        except Deferred:
            return "deferred"
        return "started" if isinstance(result, Started) else "other"

    assert sorted(await asyncio.gather(start(0), start(1))) == ["deferred", "started"]
    assert len(await rt.store.recent()) == 1


async def test_a_hook_over_its_limit_waits_and_is_not_lost(rt: Runtime, http: httpx.AsyncClient) -> None:
    hooks = rt.webhooks()
    assert hooks is not None
    hooks.consumer.reclaim_after_ms = 20
    await hooks.consumer.ensure_group()
    for incident in ("INC-1", "INC-2"):
        body = json.dumps({"task": f"Look into {incident}", "incident": incident}).encode()
        response = await http.post("/webhooks/generic/pager", content=body, headers=signed(body, HOOK_SECRET))
        assert response.status_code == 202
    for _ in range(5):
        await hooks.consumer.step(block_ms=30)
    [running] = await rt.store.recent()  # max_concurrent = 1: the second delivery waits in the stream
    assert running.origin == "webhook:pager:INC-1"
    assert await rt.redis.xlen(keys.WEBHOOK_DELIVERIES) == 1
    await rt.store.set_status(running.id, "finished")
    async with asyncio.timeout(10):
        while len(await rt.store.recent()) < 2:
            await hooks.consumer.step(block_ms=30)
    assert {s.origin for s in await rt.store.recent()} == {"webhook:pager:INC-1", "webhook:pager:INC-2"}
    assert await rt.redis.xlen(keys.WEBHOOK_DELIVERIES) == 0


async def test_repeats_on_a_running_triage_are_merged_into_one_note(rt: Runtime, http: httpx.AsyncClient) -> None:
    await alert(rt, http, "800")
    [session] = await rt.store.recent()  # queued, no worker: not ended
    for _ in range(5):
        await alert(rt, http, "800")
    messages = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, UserMessage)]
    assert len(messages) == 2  # the prompt, then one note for the first repeat
    assert "fired again." in messages[1].text
    held = [
        e.event for e in await rt.store.events(session.id) if isinstance(e.event, Note) and "(held)" in e.event.text
    ]
    assert len(held) == 4
    await rt.redis.delete(keys.repeat_gate(session.id))  # the interval passed
    await alert(rt, http, "800")
    messages = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, UserMessage)]
    assert len(messages) == 3 and "it also fired 4 more times since the last note" in messages[2].text
    assert len(await rt.store.recent()) == 1
