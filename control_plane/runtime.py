"""The composition root: turns Settings into connected parts. Only entrypoints (cli) use it."""

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import FastAPI
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from control_plane.agent_setup import AgentConfig, AgentSetup
from control_plane.api import ApiConfig, create_app
from control_plane.automations import AutomationHealth, Automations, configured_automations
from control_plane.children import ChildWaker, SubSessionLimits
from control_plane.config import Settings
from control_plane.daily_budgets import DailySpend
from control_plane.embedded_redis import EmbeddedRedis
from control_plane.git import GitCredentials, Mirrors
from control_plane.log_setup import SessionLogContext
from control_plane.metrics import Metrics
from control_plane.metrics_endpoint import metrics_router
from control_plane.model_choice import model_config
from control_plane.notes import NoteStore
from control_plane.push_policy import PushPolicy
from control_plane.queue import WorkQueue
from control_plane.runner import RunnerDeps, SessionRunner
from control_plane.sandbox_runtime import sandbox_provider, sandbox_starts
from control_plane.snapshot_refresh import SnapshotRefresher
from control_plane.store import SessionStore
from control_plane.tracing import NoTracing, Tracing
from control_plane.web.app import create_web_app, mount_web
from control_plane.web.config import web_config
from control_plane.webhook_metrics import WebhookMetricsMiddleware
from control_plane.worker import Worker, worker_name
from harness.compaction import CompactionConfig
from harness.errors import ConfigError
from harness.model import Model
from harness.providers import ClosableModel, open_model
from harness.sandboxes.snapshots import SnapshotProvider
from harness.screenshot import ChromiumConfig, PlaywrightScreenshotter, chromium_available
from harness.skills import KnowledgeLimits, builtin_skills

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from integrations.github import GitHub
    from integrations.sentry import Sentry
    from integrations.slack import SlackIntegration
    from integrations.triage import TriageStarter
    from integrations.webhooks import GenericWebhooks


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    store: SessionStore
    _models: dict[str, ClosableModel] = field(default_factory=dict)
    _github: "GitHub | None" = None
    _slack: "SlackIntegration | None" = None
    _sentry: "Sentry | None" = None
    _webhooks: "GenericWebhooks | None" = None
    _automations: Automations | None = None
    _tracer_provider: "TracerProvider | None" = None
    _sandbox_providers: list[SnapshotProvider] = field(default_factory=list)

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator["Runtime"]:
        embedded = None if settings.redis_url else EmbeddedRedis(settings.data_dir)
        url = await embedded.start() if embedded is not None else settings.redis_url
        assert url is not None
        redis = _connect(url)
        try:
            await _ping(url)
            rt = cls(settings, redis, SessionStore(redis))
            try:
                yield rt
            finally:
                for provider in rt._sandbox_providers:
                    await provider.close()  # the local sandboxes' networks and egress proxies
                for model in rt._models.values():
                    await model.close()
                if rt._github is not None:
                    rt._github.close()
                if rt._tracer_provider is not None:
                    rt._tracer_provider.shutdown()  # flushes the spans still batched
        finally:
            await redis.aclose()
            if embedded is not None:
                await embedded.stop()

    def model(self) -> Model:
        """The deployment's default model (settings.model)."""
        return self.model_for(self.settings.model)

    def model_for(self, choice: str) -> Model:
        """One client per model choice and process, closed when the runtime closes; the SDK is imported lazily."""
        if choice not in self._models:
            self._models[choice] = open_model(model_config(self.settings, choice))
        return self._models[choice]

    def github(self) -> "GitHub | None":
        """The GitHub integration, when an App or a token is configured; one per process."""
        if self._github is None:
            # Imported here: PyGithub and the integration load only in deployments that use GitHub.
            from integrations.github import GitHub, GitHubConfig

            config = GitHubConfig.from_settings(self.settings)
            if config is None:
                return None
            # Reviews use the deployment's default model, opened on the first review.
            mirrors_dir = self.settings.data_dir / "mirrors"
            self._github = GitHub(config, self.redis, self.store, mirrors_dir=mirrors_dir, review_model=self.model)
        return self._github

    def slack(self) -> "SlackIntegration | None":
        """The Slack integration, when a bot token and a signing secret are configured; one per process."""
        if self._slack is None:
            # Imported here: Bolt and the Slack SDK load only in deployments that use Slack.
            from integrations.slack import SlackConfig, SlackIntegration

            config = SlackConfig.from_settings(self.settings)
            if config is None:
                return None
            self._slack = SlackIntegration(config, self.redis, self.store, credentials=self.git_credentials())
        return self._slack

    def sentry(self) -> "Sentry | None":
        """The Sentry integration, when its client secret is configured; one per process."""
        if self._sentry is None:
            from integrations.sentry import Sentry, SentryConfig

            config = SentryConfig.from_settings(self.settings)
            if config is None:
                return None
            self._sentry = Sentry(config, self.redis, self.store, self._triage_starter())
        return self._sentry

    def webhooks(self) -> "GenericWebhooks | None":
        """The generic inbound webhooks, when any is configured; one per process."""
        if self._webhooks is None and self.settings.webhooks:
            from integrations.webhooks import GenericWebhooks

            self._webhooks = GenericWebhooks(self.settings.webhooks, self.redis, self._triage_starter())
        return self._webhooks

    def automations(self) -> Automations:
        """The triage automations (Sentry projects, generic webhooks) and their state; one per process."""
        if self._automations is None:
            found = configured_automations(self.settings)
            self._automations = Automations(self.redis, found, max_failures=self.settings.automation_max_failures)
        return self._automations

    def automation_health(self) -> AutomationHealth:
        slack = self.slack()
        return AutomationHealth(self.automations(), notifier=slack.reporter if slack else None)

    def _triage_starter(self) -> "TriageStarter":
        from integrations.triage import TriageStarter

        return TriageStarter(
            self.redis,
            self.store,
            self.automation_health(),
            credentials=self.git_credentials(),
            max_prompt_bytes=self.settings.max_prompt_bytes,
        )

    def tracing(self) -> Tracing:
        """A trace per session run when an OTLP endpoint is configured; the SDK is imported only then."""
        if self.settings.otel_endpoint is None:
            return NoTracing()
        try:
            from control_plane.otel import OtelTracing, otlp_provider
        except ImportError as e:
            raise ConfigError(f"tracing needs the otel extra: pip install 'nightshift[otel]' ({e})") from e
        if self._tracer_provider is None:
            self._tracer_provider = otlp_provider(self.settings.otel_endpoint, "nightshift")
        return OtelTracing(self._tracer_provider.get_tracer("nightshift"))

    def git_credentials(self) -> GitCredentials | None:
        """Credentials for git commands on the control plane's side (the GitHub App's tokens), if configured."""
        github = self.github()
        return github.credentials if github else None

    def worker(self, model: Model, *, concurrency: int | None = None) -> Worker:
        s = self.settings
        name = worker_name()
        provider = sandbox_provider(s, self.redis)
        self._sandbox_providers.append(provider)
        github, slack = self.github(), self.slack()
        mirrors = Mirrors(s.data_dir / "mirrors", credentials=self.git_credentials())
        starts = sandbox_starts(s, self.redis, provider, mirrors)
        refresher = SnapshotRefresher(starts, self.redis, interval_s=s.snapshot_refresh_interval_s, me=name)
        deps = RunnerDeps(
            store=self.store,
            mirrors=mirrors,
            pushes=PushPolicy(mirrors, github.pull_heads if github else None),
            provider=provider,
            model=model,
            budget=s.budget(),
            limits=s.tool_limits(),
            agent=self._agent_setup(mirrors),
            starts=starts,
            metrics=Metrics(self.redis),
            spend=DailySpend(self.redis, s.daily_budgets()),
            provider_name=s.sandbox,
            tracing=self.tracing(),
            secrets=s.secrets(),
            worker=name,
            # GitHub before Slack: the thread's final message links the pull request the GitHub observer opened.
            observers=[
                ChildWaker(self.store),
                *([github.publisher] if github else []),
                *([slack.observer, slack.reporter] if slack else []),
                self.automation_health(),
            ],
        )
        return Worker(
            queue=WorkQueue(self.redis, consumer=name, lease_ttl_s=s.lease_ttl_s),
            store=self.store,
            runner=SessionRunner(deps),
            concurrency=concurrency or s.worker_concurrency,
            background=[refresher.run] if s.snapshot_refresh_interval_s > 0 else [],
            drain_timeout_s=s.drain_timeout_s,
        )

    def _agent_setup(self, mirrors: Mirrors) -> AgentSetup:
        s = self.settings
        config = AgentConfig(
            artifacts_dir=s.data_dir / "artifacts",
            knowledge=KnowledgeLimits(repo_doc_limit_bytes=s.repo_doc_limit_bytes),
            sub_sessions=SubSessionLimits(max_children=s.max_sub_sessions, max_depth=s.max_sub_session_depth),
            compaction=CompactionConfig(at_fraction=s.compact_at_fraction),
            wrap_up_max_tokens=s.wrap_up_max_tokens,
            max_prompt_bytes=s.max_prompt_bytes,
            repo_models=s.repo_models,
        )
        # The API's own port is loopback too: a page "served by the sandbox" there would be the control plane.
        chromium = ChromiumConfig(executable=s.chromium_path, blocked_ports=[s.port])
        # Chromium runs here and reaches the page over loopback: only the local provider shares our network.
        can_shoot = s.sandbox == "local" and chromium_available(chromium)
        return AgentSetup(
            config=config,
            store=self.store,
            mirrors=mirrors,
            notes=NoteStore(self.redis, max_notes=s.max_repo_notes),
            builtin_skills=builtin_skills(),
            models=self.model_for,
            screenshots=PlaywrightScreenshotter(chromium) if can_shoot else None,
        )

    def api(self) -> FastAPI:
        """The JSON API under /api, with the web UI on every other path."""
        token = self.api_token()
        config = ApiConfig(
            api_token=token,
            max_prompt_bytes=self.settings.max_prompt_bytes,
            public_url=self.settings.public_url,
            artifacts_dir=self.settings.data_dir / "artifacts",
            max_repo_notes=self.settings.max_repo_notes,
            auth_failure_limit=self.settings.auth_failure_limit,
            auth_failure_window_s=self.settings.auth_failure_window_s,
        )
        github = self.github()
        webhook = github.router() if github else None  # None without a webhook secret
        routers = [webhook] if webhook else []
        slack = self.slack()
        routers += [slack.router()] if slack else []
        sentry = self.sentry()
        routers += [sentry.router()] if sentry else []
        hooks = self.webhooks()
        routers += [hooks.router()] if hooks else []
        metrics_token = self.settings.metrics_token
        routers += [metrics_router(self.redis, metrics_token.get_secret_value() if metrics_token else None)]
        credentials = self.git_credentials()
        app = create_app(
            self.redis, self.store, config, routers=routers, credentials=credentials, automations=self.automations()
        )
        app.add_middleware(WebhookMetricsMiddleware, metrics=Metrics(self.redis))
        app.add_middleware(SessionLogContext)
        web = create_web_app(self.store, web_config(self.settings, token), self.settings, credentials=credentials)
        mount_web(app, web)
        return app

    def api_token(self) -> str:
        """The configured token, else one made once and kept (0600) in the data dir."""
        if self.settings.api_token is not None:
            return self.settings.api_token.get_secret_value()
        path = self.settings.data_dir / "api-token"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
        return path.read_text().strip()


# Blocking stream reads wait up to 15 s (API stream, workers); the socket timeout must outlast them, and a pool that
# waits for a free connection beats one that fails at once under a burst of SSE viewers.
REDIS_SOCKET_TIMEOUT_S = 30.0
REDIS_MAX_CONNECTIONS = 500
# A Redis restart (or a failover) drops every connection: each command reconnects and retries, backing off to 1 s,
# for about 30 s in all, so workers, consumers and the API ride it out instead of failing sessions. A write whose reply
# the restart swallowed may run twice (docs/reliability.md, "Faults and load").
REDIS_RETRY = Retry(EqualJitterBackoff(cap=1.0, base=0.05), retries=40)


def _connect(url: str) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=REDIS_SOCKET_TIMEOUT_S,
        retry=REDIS_RETRY,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


async def _ping(url: str) -> None:
    """Once at start and without REDIS_RETRY: a wrong REDIS_URL fails now, not after 30 s of retries."""
    probe = Redis.from_url(url, retry=Retry(NoBackoff(), 0))
    try:
        await probe.ping()
    except (RedisConnectionError, OSError) as e:
        raise ConfigError(f"cannot reach Redis at {url}: {e}") from e
    finally:
        await probe.aclose()
