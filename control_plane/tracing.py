"""Traces of session runs, derived from the events a run logs (one observer place: the runner's sink).

The protocol keeps OpenTelemetry optional: without the `otel` extra or an endpoint, runs get NoTracing; with them,
the composition root wires control_plane.otel.OtelTracing. The harness knows nothing of either.
"""

from typing import Protocol

from control_plane.models import Session
from harness.events import Event


class RunTrace(Protocol):
    def event(self, event: Event) -> None:
        """An event the run just logged (model turns and tool results become spans)."""
        ...

    def sandbox_started(self, seconds: float, warm: bool) -> None: ...

    def end(self, error: BaseException | None) -> None: ...


class Tracing(Protocol):
    def start_run(self, session: Session, run: int, worker: str) -> RunTrace: ...


class _NoTrace:
    def event(self, event: Event) -> None:
        pass

    def sandbox_started(self, seconds: float, warm: bool) -> None:
        pass

    def end(self, error: BaseException | None) -> None:
        pass


class NoTracing:
    def start_run(self, session: Session, run: int, worker: str) -> RunTrace:
        return _NoTrace()
