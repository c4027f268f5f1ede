"""POST /webhooks/generic/<name>: a hook's secret, filter and sandboxed prompt template decide what a delivery
starts; forged, oversized and malformed deliveries change nothing; one origin maps to one session."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from spine import settings_for

from control_plane import keys
from control_plane.config import Settings
from control_plane.runtime import Runtime
from harness.testing.anthropic_standin import AnthropicStandIn
from integrations.signatures import hex_digest
from integrations.webhooks import GenericWebhooks

SECRET = "grafana-hook-secret-7d1e"
PROMPT = """Grafana alert {{ payload.title }} is {{ payload.status }}.
{% for a in payload.alerts %}- {{ a.labels.alertname }} on {{ a.labels.instance }}
{% endfor %}Find out why calc.py misbehaves and fix it. {{ payload.__class__ }}{{ payload.items.__globals__ }}"""


@pytest.fixture
async def hook_rt(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, redis: Redis, remote: Path
) -> AsyncIterator[Runtime]:
    hook = {
        "secret": SECRET,
        "repo": str(remote),
        "prompt": PROMPT,
        "filter": "payload.status == 'firing'",
        "origin": "payload.groupKey",
        "slack_channel": "C0ONCALL01",
        "max_payload_bytes": 50_000,
    }
    settings = settings_for(tmp_path, redis_url, standin.base_url, webhooks={"grafana": hook})
    async with Runtime.open(settings) as rt:
        yield rt


def grafana(status: str = "firing", group: str = "g-1", title: str = "[FIRING:1] HighErrorRate") -> bytes:
    alert = {"labels": {"alertname": "HighErrorRate", "instance": "web-1"}, "annotations": {"summary": "{{ 7*7 }}"}}
    return json.dumps({"title": title, "status": status, "groupKey": group, "alerts": [alert]}).encode()


def signed(body: bytes, secret: str = SECRET, delivery: str | None = None) -> dict[str, str]:
    h = {"content-type": "application/json", "x-nightshift-signature": "sha256=" + hex_digest(secret.encode(), body)}
    return h | ({"x-nightshift-delivery": delivery} if delivery else {})


def hooks_of(rt: Runtime) -> GenericWebhooks:
    hooks = rt.webhooks()
    assert hooks is not None
    return hooks


async def post(rt: Runtime, body: bytes, headers: dict[str, str], name: str = "grafana") -> httpx.Response:
    transport = httpx.ASGITransport(app=rt.api())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.post(f"/webhooks/generic/{name}", content=body, headers=headers)


async def test_signed_delivery_starts_a_session_from_the_sandboxed_template(hook_rt: Runtime, redis: Redis) -> None:
    hooks = hooks_of(hook_rt)
    body = grafana()
    response = await post(hook_rt, body, signed(body, delivery="d-1"))
    assert response.status_code == 202 and response.json() == {"status": "queued"}
    assert await hooks.consumer.drain(idle_ms=50) == 1
    [session] = await hook_rt.store.recent()
    assert session.source == "webhook" and session.origin == "webhook:grafana:g-1"
    [(_, prompt)] = await hook_rt.store.inbox(session.id, after=None)
    assert "Grafana alert [FIRING:1] HighErrorRate is firing." in prompt.text
    assert "- HighErrorRate on web-1" in prompt.text
    assert "class" not in prompt.text and "globals" not in prompt.text  # the sandbox gives nothing of Python
    tag = prompt.text.split("<untrusted-", 1)[1][:8]
    assert prompt.text.index(f"<untrusted-{tag} ") < prompt.text.index("HighErrorRate")
    assert prompt.text.index("web-1") < prompt.text.index(f"</untrusted-{tag}>")
    assert await redis.get(keys.slack_report_channel(session.id)) == "C0ONCALL01"


async def test_same_origin_is_one_session_and_replays_are_dropped(hook_rt: Runtime) -> None:
    hooks = hooks_of(hook_rt)
    first, again = grafana(), grafana(title="[FIRING:2] HighErrorRate")
    assert (await post(hook_rt, first, signed(first))).json() == {"status": "queued"}
    assert (await post(hook_rt, first, signed(first))).json() == {"status": "duplicate"}  # same body, no id
    assert (await post(hook_rt, again, signed(again, delivery="d-2"))).json() == {"status": "queued"}
    assert (await post(hook_rt, again, signed(again, delivery="d-2"))).json() == {"status": "duplicate"}
    assert await hooks.consumer.drain(idle_ms=50) == 2
    [session] = await hook_rt.store.recent()
    inbox = await hook_rt.store.inbox(session.id, after=None)
    assert len(inbox) == 2 and "[FIRING:2]" in inbox[1][1].text


async def test_the_filter_decides(hook_rt: Runtime, redis: Redis) -> None:
    hooks_of(hook_rt)
    body = grafana(status="resolved")
    assert (await post(hook_rt, body, signed(body))).json() == {"status": "filtered"}
    assert await redis.xlen(keys.WEBHOOK_DELIVERIES) == 0


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("unsigned", 401),
        ("wrong secret", 401),
        ("tampered", 401),
        ("unknown hook", 404),
        ("oversized", 413),
        ("not json", 400),
    ],
)
async def test_rejected_deliveries_change_nothing(hook_rt: Runtime, redis: Redis, case: str, status: int) -> None:
    hooks_of(hook_rt)
    body, name = grafana(), "grafana"
    headers = signed(body)
    if case == "unsigned":
        del headers["x-nightshift-signature"]
    elif case == "wrong secret":
        headers = signed(body, secret="another-secret")
    elif case == "tampered":
        body = body.replace(b"firing", b"FIRING")
    elif case == "unknown hook":
        name = "datadog"
    elif case == "oversized":
        body = json.dumps({"status": "firing", "pad": "x" * 60_000}).encode()
        headers = signed(body)
    else:
        body = b"status=firing"
        headers = signed(body)
    assert (await post(hook_rt, body, headers, name=name)).status_code == status
    assert await redis.xlen(keys.WEBHOOK_DELIVERIES) == 0
    assert await hook_rt.store.recent() == []


def test_hooks_come_from_json_in_the_environment_and_their_secrets_are_secrets(tmp_path: Path) -> None:
    hook = {"secret": SECRET, "repo": "acme/api", "prompt": "{{ payload.msg }}"}
    settings = Settings.load({"NIGHTSHIFT_DATA_DIR": str(tmp_path), "NIGHTSHIFT_WEBHOOKS": json.dumps({"cron": hook})})
    assert settings.webhooks["cron"].repo == "acme/api"
    assert SECRET in settings.secrets()


async def test_a_delivery_handled_again_adds_nothing(hook_rt: Runtime, redis: Redis) -> None:
    """Its process died after starting the session (or after the follow-up): the consumer's retry is no follow-up."""
    hooks = hooks_of(hook_rt)
    first, again = grafana(), grafana(title="[FIRING:2] HighErrorRate")
    raws: list[str] = []
    for body, delivery in ((first, "d-1"), (again, "d-2")):
        await post(hook_rt, body, signed(body, delivery=delivery))
        [(_, fields)] = await redis.xrange(keys.WEBHOOK_DELIVERIES, count=1)
        raws.append(fields["d"])
        assert await hooks.consumer.drain(idle_ms=50) == 1
    for raw in raws:
        await hooks.consumer.handle(raw)
    [session] = await hook_rt.store.recent()
    assert len(await hook_rt.store.inbox(session.id, after=None)) == 2
