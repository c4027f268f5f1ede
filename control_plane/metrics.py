"""Prometheus metrics kept in Redis, so every process (API, workers on other hosts) adds to the same series.

Workers and intake handlers record counters and histogram buckets with HINCRBYFLOAT on one hash; the API's
/metrics (control_plane.metrics_endpoint) reads it back and renders it with prometheus_client. Per-process
registries would need every worker to be scraped, and multiprocess mode only works for processes sharing a disk.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from control_plane import keys


@dataclass(frozen=True)
class Counter:
    name: str
    """Without the `_total` suffix, which prometheus_client adds."""
    help: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Histogram:
    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]
    """Upper bounds in seconds; +Inf is implied."""


MODEL_TOKENS = Counter("nightshift_model_tokens", "Model tokens, by model and kind.", ("model", "kind"))
MODEL_COST = Counter("nightshift_model_cost_usd", "Estimated model cost in dollars, by model.", ("model",))
MODEL_CALLS = Counter("nightshift_model_calls", "Model calls (turns, compactions, wrap-ups), by model.", ("model",))
TOOL_SECONDS = Histogram(
    "nightshift_tool_call_seconds",
    "Tool-call latency, by tool.",
    ("tool",),
    (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
SANDBOX_START_SECONDS = Histogram(
    "nightshift_sandbox_start_seconds",
    "Time to a ready workspace for a new sandbox, by provider and start (warm: from a setup snapshot).",
    ("provider", "start"),
    (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
WEBHOOK_SECONDS = Histogram(
    "nightshift_webhook_seconds",
    "Webhook intake latency (verify, parse, enqueue), by source.",
    ("source",),
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
WEBHOOK_REJECTS = Counter(
    "nightshift_webhook_rejects", "Webhook deliveries refused, by source and reason.", ("source", "reason")
)
RECORDED: tuple[Counter | Histogram, ...] = (
    MODEL_TOKENS,
    MODEL_COST,
    MODEL_CALLS,
    TOOL_SECONDS,
    SANDBOX_START_SECONDS,
    WEBHOOK_SECONDS,
    WEBHOOK_REJECTS,
)


def field(name: str, labels: Mapping[str, str], part: str = "") -> str:
    """One hash field per series (and per histogram bucket, `sum` and `count`)."""
    return json.dumps([name, sorted(labels.items()), part])


def parse_field(raw: str) -> tuple[str, dict[str, str], str]:
    name, labels, part = json.loads(raw)
    return name, dict(labels), part


def bucket_of(value: float, buckets: tuple[float, ...]) -> str:
    """The smallest upper bound holding `value`; buckets are stored apart and made cumulative when read."""
    return repr(next((b for b in buckets if value <= b), math.inf))


class Metrics:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def inc(self, counter: Counter, labels: Mapping[str, str], by: float = 1.0) -> None:
        await self.redis.hincrbyfloat(keys.METRICS, field(counter.name, labels), by)

    async def add(self, counter: Counter, rows: list[tuple[Mapping[str, str], float]]) -> None:
        """Several series of one counter in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for labels, by in rows:
                pipe.hincrbyfloat(keys.METRICS, field(counter.name, labels), by)
            await pipe.execute()

    async def observe(self, histogram: Histogram, labels: Mapping[str, str], value: float) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrbyfloat(keys.METRICS, field(histogram.name, labels, bucket_of(value, histogram.buckets)), 1)
            pipe.hincrbyfloat(keys.METRICS, field(histogram.name, labels, "sum"), value)
            pipe.hincrbyfloat(keys.METRICS, field(histogram.name, labels, "count"), 1)
            await pipe.execute()
