"""GET /metrics scraped and parsed (prometheus_client's parser) before, during and after a scripted session run by a
worker process: the gauges show the session queued then running, and the counters move by exactly what it did."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from spine import marker, settings_for, spawn_worker, start, wait_event, wait_status

from control_plane.runtime import Runtime
from control_plane.webhook_metrics import webhook_source
from harness.messages import Usage
from harness.pricing import DEFAULT_PRICES, cost_usd
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, ScriptedUsage, tool_use

METRICS_TOKEN = "metrics-token-5f2a9c"
HOOK = "deploys"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def metrics_rt(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, redis: Redis, remote: Path
) -> AsyncIterator[Runtime]:
    hook = {"secret": "deploy-hook-secret-1234", "repo": str(remote), "prompt": "{{ payload.text }}"}
    settings = settings_for(tmp_path, redis_url, standin.base_url, metrics_token=METRICS_TOKEN, webhooks={HOOK: hook})
    async with Runtime.open(settings) as rt:
        yield rt


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_follow_a_session(metrics_rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    rt = metrics_rt
    tag = marker()
    usage = ScriptedUsage(
        input_tokens=1000, output_tokens=200, cache_read_input_tokens=0, cache_creation_input_tokens=0
    )
    waits = "while [ ! -f go ]; do sleep 0.05; done; rm go"
    turns = [
        Reply(tool_use("shell", {"command": waits}), usage=usage),
        Reply(tool_use("finish", {"summary": "counted"}), usage=usage),
    ]
    standin.register(Script(turns, key=tag))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.api()), base_url="http://test") as http:
        assert (await http.get("/metrics")).status_code == 401
        before = await scrape(http)
        session = await start(rt, remote, f"{tag} count me")
        queued = await scrape(http)
        assert value(queued, "nightshift_sessions", state="queued", source="cli") == 1
        assert value(queued, "nightshift_queue_depth") == value(before, "nightshift_queue_depth") + 1
        assert value(queued, "nightshift_queue_oldest_job_age_seconds") >= 0
        worker, _ = spawn_worker(rt, standin, "metrics")  # another process: what it records must show here
        try:
            await wait_event(rt, session.id, "tool_started")
            running = await scrape(http)
            (rt.settings.data_dir / "sandboxes" / session.id / "workspace" / "go").touch()
            assert (await wait_status(rt, session.id, {"finished", "failed", "cancelled"})).status == "finished"
        finally:
            worker.kill()
            worker.wait(10)
        forged = await http.post(f"/webhooks/generic/{HOOK}", content=b"{}", headers={"x-nightshift-signature": "x"})
        assert forged.status_code == 401
        after = await scrape(http)

    assert value(running, "nightshift_sessions", state="running", source="cli") == 1
    assert value(running, "nightshift_queue_pending") == 1
    assert value(after, "nightshift_sessions", state="finished", source="cli") == 1
    assert value(after, "nightshift_queue_depth") == value(after, "nightshift_queue_pending") == 0

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    model = rt.settings.model
    assert delta("nightshift_model_calls_total", model=model) == 2
    assert delta("nightshift_model_tokens_total", model=model, kind="input") == 2000
    assert delta("nightshift_model_tokens_total", model=model, kind="output") == 400
    assert delta("nightshift_model_tokens_total", model=model, kind="cache_read") == 0
    final = await rt.store.get(session.id)
    one_call = cost_usd(model, Usage(input_tokens=1000, output_tokens=200), DEFAULT_PRICES)
    assert final.cost_usd == pytest.approx(2 * one_call) and one_call > 0
    assert delta("nightshift_model_cost_usd_total", model=model) == pytest.approx(2 * one_call)
    assert delta("nightshift_tool_call_seconds_count", tool="shell") == 1
    assert delta("nightshift_tool_call_seconds_count", tool="finish") == 1
    assert delta("nightshift_tool_call_seconds_bucket", tool="shell", le="+Inf") == 1
    assert delta("nightshift_sandbox_start_seconds_count", provider="local", start="cold") == 1
    assert delta("nightshift_webhook_seconds_count", source="webhook") == 1
    assert delta("nightshift_webhook_rejects_total", source="webhook", reason="signature") == 1


async def test_metrics_token_is_required_when_set(metrics_rt: Runtime) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=metrics_rt.api()), base_url="http://t") as http:
        assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).status_code == 200


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("/slack/events", "slack"),
        ("/webhooks/github", "github"),
        ("/webhooks/sentry", "sentry"),
        ("/webhooks/generic/grafana", "webhook"),
        ("/api/sessions", None),
        ("/slack/oauth", None),
    ],
)
def test_webhook_source(path: str, source: str | None) -> None:
    assert webhook_source(path) == source
