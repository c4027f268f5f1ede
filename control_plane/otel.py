"""OpenTelemetry traces: one trace per session run, with spans for model calls, tool calls and the sandbox start.

Needs the `otel` extra (opentelemetry-sdk, and opentelemetry-exporter-otlp-proto-http for OTLP export). Spans are
made from the run's events as they are logged: a tool span from its result's duration, a model span from the
previous logged step to the logged turn (the call plus a few Redis reads), so the loop needs no hooks.
"""

import time

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from control_plane.models import Session
from control_plane.tracing import RunTrace
from harness.errors import HandBack
from harness.events import Compacted, Event, ModelRetry, ModelTurnEvent, ToolResult


class OtelTracing:
    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def start_run(self, session: Session, run: int, worker: str) -> RunTrace:
        attributes = {
            "nightshift.session_id": session.id,
            "nightshift.repo": session.repo,
            "nightshift.source": session.source,
            "nightshift.requested_by": session.requested_by,
            "nightshift.run": run,
            "nightshift.worker": worker,
        }
        return OtelRunTrace(self.tracer, self.tracer.start_span("session run", attributes=attributes))


class OtelRunTrace:
    def __init__(self, tracer: Tracer, root: Span) -> None:
        self.tracer, self.root = tracer, root
        self.context = trace.set_span_in_context(root)
        self.last_step_ns = time.time_ns()

    def event(self, event: Event) -> None:
        now = time.time_ns()
        if isinstance(event, ModelTurnEvent | Compacted):
            name = "model call" if isinstance(event, ModelTurnEvent) else "model call (compaction)"
            usage = event.usage
            attributes = {
                "gen_ai.request.model": event.model,
                "gen_ai.usage.input_tokens": usage.input_tokens,
                "gen_ai.usage.output_tokens": usage.output_tokens,
                "nightshift.cost_usd": event.cost_usd,
            }
            self._span(name, self.last_step_ns, now, attributes)
        elif isinstance(event, ToolResult):
            attributes = {"nightshift.tool": event.name, "nightshift.tool_error": event.is_error}
            self._span(f"tool {event.name}", now - event.duration_ms * 1_000_000, now, attributes)
        if not isinstance(event, ModelRetry):  # a retry is logged in the middle of the model call it belongs to
            self.last_step_ns = now

    def sandbox_started(self, seconds: float, warm: bool) -> None:
        now = time.time_ns()
        self._span("sandbox start", now - int(seconds * 1e9), now, {"nightshift.sandbox_warm": warm})
        self.last_step_ns = now

    def end(self, error: BaseException | None) -> None:
        if isinstance(error, HandBack):
            self.root.set_attribute("nightshift.handed_back", True)  # a graceful stop, not a failure
        elif error is not None:
            self.root.set_status(Status(StatusCode.ERROR, type(error).__name__))
        self.root.end()

    def _span(self, name: str, start_ns: int, end_ns: int, attributes: dict[str, str | int | float | bool]) -> None:
        span = self.tracer.start_span(name, context=self.context, start_time=start_ns, attributes=attributes)
        span.end(end_time=end_ns)


def otlp_provider(endpoint: str, service: str) -> TracerProvider:
    """Spans batched to an OTLP/HTTP collector (`endpoint` is its root, e.g. http://otel-collector:4318)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")))
    return provider
