"""GET /metrics: the Redis-kept metrics plus gauges read at scrape time, in Prometheus' text format."""

import json
import secrets
import time
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import APIRouter, Header, HTTPException
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from control_plane import keys
from control_plane.metrics import RECORDED, Counter, Histogram, parse_field

_SCAN_CHUNK = 1000


@dataclass(frozen=True)
class Snapshot:
    """Everything one scrape shows, read from Redis before rendering (prometheus_client collects synchronously)."""

    recorded: dict[str, float]
    sessions: dict[tuple[str, str], int]
    """(status, source) -> sessions."""
    queue_depth: int
    queue_pending: int
    oldest_job_age_s: float


async def read_snapshot(redis: Redis, now: float) -> Snapshot:
    return Snapshot(
        recorded={k: float(v) for k, v in (await redis.hgetall(keys.METRICS)).items()},
        sessions=await _sessions_by_state(redis),
        queue_depth=await redis.xlen(keys.QUEUE),
        queue_pending=await _pending(redis),
        oldest_job_age_s=await _oldest_job_age(redis, now),
    )


# Counted inside Redis, a chunk of ids per call: no per-session round trip or reply, and Redis is never blocked for
# longer than one chunk takes. Values are stored JSON-encoded; the few distinct pairs are decoded here.
_TALLY = """
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])
local tally = {}
for _, id in ipairs(ids) do
  local row = redis.call('HMGET', ARGV[3] .. id, 'status', 'source')
  if row[1] and row[2] then
    local key = row[1] .. '|' .. row[2]
    tally[key] = (tally[key] or 0) + 1
  end
end
local out = {#ids}
for key, n in pairs(tally) do out[#out + 1] = key; out[#out + 1] = n end
return out
"""


async def _sessions_by_state(redis: Redis) -> dict[tuple[str, str], int]:
    """Every session's status and source: O(sessions) per scrape, counted server-side in chunks."""
    tally: Tally[tuple[str, str]] = Tally()
    script, prefix, start = redis.register_script(_TALLY), keys.session(""), 0
    while True:
        reply = await script(keys=[keys.SESSIONS], args=[start, start + _SCAN_CHUNK - 1, prefix])
        for pair, n in zip(reply[1::2], reply[2::2], strict=True):
            status, source = pair.split("|", 1)
            tally[(json.loads(status), json.loads(source))] += int(n)
        if reply[0] < _SCAN_CHUNK:
            return dict(tally)
        start += _SCAN_CHUNK


async def _pending(redis: Redis) -> int:
    groups = await redis.xinfo_groups(keys.QUEUE) if await redis.exists(keys.QUEUE) else []
    return sum(int(g["pending"]) for g in groups if g["name"] == keys.QUEUE_GROUP)


async def _oldest_job_age(redis: Redis, now: float) -> float:
    """Jobs are deleted once done, so the stream's first entry is the oldest job not finished; its id is its time."""
    first = await redis.xrange(keys.QUEUE, count=1)
    if not first:
        return 0.0
    millis = int(first[0][0].split("-")[0])
    return max(0.0, now - millis / 1000)


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        sessions = GaugeMetricFamily("nightshift_sessions", "Sessions by state and source.", labels=["state", "source"])
        for (state, source), n in sorted(s.sessions.items()):
            sessions.add_metric([state, source], n)
        yield sessions
        yield GaugeMetricFamily("nightshift_queue_depth", "Jobs in the queue, waiting or running.", s.queue_depth)
        yield GaugeMetricFamily("nightshift_queue_pending", "Jobs taken by a worker and not yet done.", s.queue_pending)
        yield GaugeMetricFamily(
            "nightshift_queue_oldest_job_age_seconds", "Age of the oldest job not yet done.", s.oldest_job_age_s
        )
        rows = [(*parse_field(k), v) for k, v in s.recorded.items()]
        for metric in RECORDED:
            mine = [(labels, part, v) for name, labels, part, v in rows if name == metric.name]
            yield _counter(metric, mine) if isinstance(metric, Counter) else _histogram(metric, mine)


def _counter(metric: Counter, rows: list[tuple[dict[str, str], str, float]]) -> Metric:
    family = CounterMetricFamily(metric.name, metric.help, labels=list(metric.labels))
    for labels, _, value in sorted(rows, key=lambda r: sorted(r[0].items())):
        family.add_metric([labels[name] for name in metric.labels], value)
    return family


def _histogram(metric: Histogram, rows: list[tuple[dict[str, str], str, float]]) -> Metric:
    family = HistogramMetricFamily(metric.name, metric.help, labels=list(metric.labels))
    series: dict[tuple[str, ...], dict[str, float]] = {}
    for labels, part, value in rows:
        series.setdefault(tuple(labels[name] for name in metric.labels), {})[part] = value
    for label_values, parts in sorted(series.items()):
        cumulative, buckets = 0.0, []
        for bound in (*metric.buckets, float("inf")):
            cumulative += parts.get(repr(bound), 0.0)
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        family.add_metric(list(label_values), buckets, parts.get("sum", 0.0))
    return family


def render(snapshot: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)


def metrics_router(redis: Redis, token: str | None) -> APIRouter:
    """`token` set: scrapers must send `Authorization: Bearer <token>`."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics(authorization: str | None = Header(None)) -> Response:
        if token is not None and not secrets.compare_digest(authorization or "", f"Bearer {token}"):
            raise HTTPException(401, "a valid metrics token is required", headers={"WWW-Authenticate": "Bearer"})
        snapshot = await read_snapshot(redis, time.time())
        return Response(render(snapshot), media_type=CONTENT_TYPE_LATEST)

    return router
