"""Generic signed inbound webhooks (Datadog, PagerDuty, Grafana, a cron job): each configured hook names a repo, a
Jinja2 prompt template, a filter and where its report goes.

- `render.py`   - the hook's templates, compiled in a sandboxed Jinja2 environment; filter, prompt, origin key.
- `endpoint.py` - POST /webhooks/generic/<name>: 404 / 413 / 401 / 400, filtered, else de-duplicated and queued.
- `intake.py`   - de-duplication (delivery id or body hash) and queueing in one Lua script.
- `handler.py`  - a new session (under the hook's concurrency limit, unless paused), or a follow-up in the session
  the delivery's origin already has.
"""

from fastapi import APIRouter
from redis.asyncio import Redis

from control_plane.config import WebhookConfig
from integrations.streams import StreamConsumer
from integrations.triage import TriageStarter
from integrations.webhooks.endpoint import generic_router
from integrations.webhooks.handler import HookHandler
from integrations.webhooks.intake import STREAM, HookQueue
from integrations.webhooks.render import HookTemplates

__all__ = ["GenericWebhooks"]


class GenericWebhooks:
    """Wired by control_plane.runtime when any hook is configured; templates compile here, so a broken one stops
    `serve` at start (ConfigError) rather than failing deliveries."""

    def __init__(
        self,
        hooks: dict[str, WebhookConfig],
        redis: Redis,
        starter: TriageStarter,
    ) -> None:
        self.hooks = hooks
        self.templates = {name: HookTemplates(name, hook) for name, hook in hooks.items()}
        self.queue = HookQueue(redis)
        self.handler = HookHandler(hooks, starter)
        # A delivery waiting for room under its hook's limit is offered again after reclaim_after_s.
        self.consumer = StreamConsumer(redis, STREAM, self.handler, reclaim_after_s=10.0, max_attempts=3)

    def router(self) -> APIRouter:
        return generic_router(hooks=self.hooks, templates=self.templates, queue=self.queue, consumer=self.consumer)
