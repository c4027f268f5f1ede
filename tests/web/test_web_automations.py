"""The automations page: every configured Sentry project and webhook with its state; pause (with a reason, escaped)
and resume through CSRF-checked forms, the same state the CLI and the API change."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from web_helpers import TOKEN, sign_in

from control_plane.automations import Automations, configured_automations
from control_plane.config import Settings
from control_plane.store import SessionStore
from control_plane.web.app import create_web_app
from control_plane.web.config import web_config


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    hook = {"secret": "s", "repo": "/srv/repos/ops.git", "prompt": "{{ payload.task }}"}
    return Settings.model_validate(
        {
            "data_dir": tmp_path / "data",
            "api_token": TOKEN,
            "sentry_project_repos": {"calc-api": "/srv/repos/calc.git"},
            "webhooks": {"pager": hook},
        }
    )


@pytest.fixture
async def client(redis: Redis, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_web_app(SessionStore(redis), web_config(settings, TOKEN), settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nightshift.test") as c:
        yield c


async def test_pause_and_resume_from_the_page(client: httpx.AsyncClient, redis: Redis, settings: Settings) -> None:
    csrf = await sign_in(client, "ana")
    page = await client.get("/automations")
    assert page.status_code == 200
    assert "<code>sentry:calc-api</code>" in page.text and "<code>webhook:pager</code>" in page.text
    assert "3 times in a row" in page.text

    refused = await client.post("/automations/webhook:pager/pause", data={"csrf": "wrong", "reason": "x"})
    assert refused.status_code == 403
    automations = Automations(redis, configured_automations(settings))
    assert not (await automations.state("webhook:pager")).paused

    done = await client.post("/automations/webhook:pager/pause", data={"csrf": csrf, "reason": "<b>noisy</b>"})
    assert (done.status_code, done.headers["location"]) == (303, "/automations")
    assert (await automations.state("webhook:pager")).paused_reason == "<b>noisy</b> (ana)"
    page = await client.get("/automations")
    assert "&lt;b&gt;noisy&lt;/b&gt; (ana)" in page.text and "<b>noisy</b>" not in page.text

    assert (await client.post("/automations/webhook:pager/resume", data={"csrf": csrf})).status_code == 303
    assert not (await automations.state("webhook:pager")).paused
    unknown = await client.post("/automations/webhook:nope/resume", data={"csrf": csrf})
    assert unknown.status_code == 404
