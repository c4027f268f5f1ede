"""Sentry alerts become triage sessions: see README.md in this directory."""

from fastapi import APIRouter
from redis.asyncio import Redis

from control_plane.store import SessionStore
from integrations.sentry.config import SentryConfig
from integrations.sentry.endpoint import sentry_router
from integrations.sentry.handler import AlertHandler
from integrations.sentry.intake import STREAM, AlertQueue
from integrations.streams import StreamConsumer
from integrations.triage import TriageStarter

__all__ = ["Sentry", "SentryConfig"]


class Sentry:
    """Wired once per process by control_plane.runtime: `router()` (POST /webhooks/sentry, whose lifespan runs
    `consumer`). Reports reach Slack through the Slack integration's ChannelReporter (the channel is recorded with
    the session)."""

    def __init__(
        self,
        config: SentryConfig,
        redis: Redis,
        store: SessionStore,
        starter: TriageStarter,
    ) -> None:
        self.config = config
        self.queue = AlertQueue(redis)
        self.handler = AlertHandler(config, redis, store, starter)
        self.consumer = StreamConsumer(
            redis, STREAM, self.handler, reclaim_after_s=config.reclaim_after_s, max_attempts=config.max_attempts
        )

    def router(self) -> APIRouter:
        secret = self.config.client_secret.get_secret_value().encode()
        return sentry_router(
            secret=secret, max_payload_bytes=self.config.max_payload_bytes, queue=self.queue, consumer=self.consumer
        )
