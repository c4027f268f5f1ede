"""GitHub as a place to hand Nightshift work, and where its work lands: see README.md in this directory."""

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter
from redis.asyncio import Redis

from control_plane.git import Mirrors
from control_plane.pull_requests import PullRequestStore
from control_plane.store import SessionStore
from harness.model import Model
from integrations.github.api import GitHubApi
from integrations.github.auth import GitHubAuth
from integrations.github.config import GitHubConfig
from integrations.github.endpoint import webhook_router
from integrations.github.handler import DeliveryHandler
from integrations.github.intake import DeliveryConsumer, DeliveryQueue
from integrations.github.publisher import PullRequestPublisher
from integrations.github.pull_heads import PullRequestHeads
from integrations.github.threads import Threads

__all__ = ["GitHub", "GitHubConfig"]


class GitHub:
    """The integration's parts, wired once per process by the composition root (control_plane.runtime):

    - `credentials`: control_plane.git.GitCredentials, so mirrors clone and push with the App's tokens;
    - `publisher`:   control_plane.observers.RunObserver, opening PRs and answering in threads;
    - `pull_heads`:  control_plane.push_policy.PullRequestHeads, a PR's head branch asked at push time;
    - `router()`:    POST /webhooks/github, whose lifespan runs `consumer` (which also runs code reviews).

    `review_model` gives the model code reviews use; called per review, so it may open its client lazily.
    """

    def __init__(
        self,
        config: GitHubConfig,
        redis: Redis,
        store: SessionStore,
        *,
        mirrors_dir: Path,
        review_model: Callable[[], Model],
    ) -> None:
        self.config = config
        self.auth = GitHubAuth(config, redis)
        self.api = GitHubApi(self.auth)
        self.pull_heads = PullRequestHeads(self.auth, self.api)
        threads, prs = Threads(redis), PullRequestStore(redis)
        mirrors = Mirrors(mirrors_dir, credentials=self.auth)
        self.queue = DeliveryQueue(redis)
        self.handler = DeliveryHandler(
            config=config,
            auth=self.auth,
            api=self.api,
            redis=redis,
            store=store,
            threads=threads,
            prs=prs,
            mirrors=mirrors,
            review_model=review_model,
        )
        self.consumer = DeliveryConsumer(
            redis, self.handler, reclaim_after_s=config.reclaim_after_s, max_attempts=config.max_attempts
        )
        self.publisher = PullRequestPublisher(
            config=config,
            auth=self.auth,
            api=self.api,
            store=store,
            threads=threads,
            prs=prs,
            mirrors=mirrors,
        )

    @property
    def credentials(self) -> GitHubAuth:
        return self.auth

    def router(self) -> APIRouter | None:
        """The webhook endpoint, when a webhook secret is configured."""
        if self.config.webhook_secret is None:
            return None
        secret = self.config.webhook_secret.get_secret_value().encode()
        return webhook_router(secret=secret, queue=self.queue, consumer=self.consumer)

    def close(self) -> None:
        self.auth.close()
