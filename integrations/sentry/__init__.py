"""Sentry alerts become triage sessions: see README.md in this directory."""

from fastapi import APIRouter
from redis.asyncio import Redis

from control_plane.git import GitCredentials
from control_plane.store import SessionStore
from integrations.sentry.config import SentryConfig
from integrations.sentry.endpoint import sentry_router
from integrations.sentry.handler import AlertHandler
from integrations.sentry.intake import STREAM, AlertQueue
from integrations.sentry.observer import TriageReporter
from integrations.slack.threads import Poster
from integrations.streams import StreamConsumer

__all__ = ["Sentry", "SentryConfig"]


class Sentry:
    """Wired once per process by control_plane.runtime: `router()` (POST /webhooks/sentry, whose lifespan runs
    `consumer`) and `reporter`, a RunObserver posting triage reports to Slack when Slack is configured."""

    def __init__(
        self,
        config: SentryConfig,
        redis: Redis,
        store: SessionStore,
        *,
        credentials: GitCredentials | None,
        poster: Poster | None,
        public_url: str,
    ) -> None:
        self.config = config
        self.queue = AlertQueue(redis)
        self.handler = AlertHandler(config, redis, store, credentials)
        self.consumer = StreamConsumer(
            redis, STREAM, self.handler, reclaim_after_s=config.reclaim_after_s, max_attempts=config.max_attempts
        )
        self.reporter = TriageReporter(redis, store, poster, public_url=public_url) if poster else None

    def router(self) -> APIRouter:
        secret = self.config.client_secret.get_secret_value().encode()
        return sentry_router(
            secret=secret, max_payload_bytes=self.config.max_payload_bytes, queue=self.queue, consumer=self.consumer
        )
