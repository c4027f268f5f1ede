"""OpenTelemetry: one trace per session run, with spans for the sandbox start, each model call and each tool call,
recorded through the SDK's in-memory exporter while a real worker runs a scripted session."""

import asyncio
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis
from spine import marker, settings_for, start, wait_status

from control_plane.otel import OtelTracing
from control_plane.runtime import Runtime
from control_plane.tracing import NoTracing
from harness.events import ModelTurnEvent, ToolResult
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use


async def test_a_run_is_one_trace(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tag = marker()
    turns = [Reply(tool_use("shell", {"command": "echo hi"})), Reply(tool_use("finish", {"summary": "traced"}))]
    standin.register(Script(turns, key=tag))
    session = await start(rt, remote, f"{tag} trace me")
    worker = rt.worker(rt.model(), concurrency=1)
    worker.runner.d.tracing = OtelTracing(provider.get_tracer("test"))
    task = asyncio.create_task(worker.run())
    try:
        assert (await wait_status(rt, session.id, {"finished", "failed"})).status == "finished"
    finally:
        worker.stop()
        await task

    spans = exporter.get_finished_spans()
    [root] = [s for s in spans if s.name == "session run"]
    assert root.attributes is not None and root.attributes["nightshift.session_id"] == session.id
    children = sorted((s for s in spans if s is not root), key=lambda s: s.start_time or 0)
    assert [s.name for s in children] == ["sandbox start", "model call", "tool shell", "model call", "tool finish"]
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in children)
    events = [e.event for e in await rt.store.events(session.id)]
    turns_logged = [e for e in events if isinstance(e, ModelTurnEvent)]
    model_spans = [s for s in children if s.name == "model call"]
    assert [s.attributes["gen_ai.usage.output_tokens"] for s in model_spans if s.attributes] == [
        t.usage.output_tokens for t in turns_logged
    ]
    [shell] = [e for e in events if isinstance(e, ToolResult) and e.name == "shell"]
    [shell_span] = [s for s in children if s.name == "tool shell"]
    assert shell_span.end_time is not None and shell_span.start_time is not None
    assert shell_span.end_time - shell_span.start_time == shell.duration_ms * 1_000_000


async def test_tracing_is_off_without_an_endpoint(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, redis: Redis
) -> None:
    async with Runtime.open(settings_for(tmp_path, redis_url, standin.base_url)) as rt:
        assert isinstance(rt.tracing(), NoTracing)
    settings = settings_for(tmp_path, redis_url, standin.base_url, otel_endpoint="http://127.0.0.1:9")
    async with Runtime.open(settings) as rt:
        assert isinstance(rt.tracing(), OtelTracing)
