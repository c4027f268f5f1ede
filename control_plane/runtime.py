"""The composition root: turns Settings into connected parts. Only entrypoints (cli) use it."""

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from control_plane.api import ApiConfig, create_app
from control_plane.config import Settings
from control_plane.embedded_redis import EmbeddedRedis
from control_plane.git import Mirrors
from control_plane.queue import WorkQueue
from control_plane.runner import RunnerDeps, SessionRunner
from control_plane.store import SessionStore
from control_plane.worker import Worker, worker_name
from harness.errors import ConfigError
from harness.model import Model
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider

if TYPE_CHECKING:
    from harness.anthropic_model import AnthropicModel


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    store: SessionStore
    _model: "AnthropicModel | None" = None

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator["Runtime"]:
        embedded = None if settings.redis_url else EmbeddedRedis(settings.data_dir)
        url = await embedded.start() if embedded is not None else settings.redis_url
        assert url is not None
        redis = Redis.from_url(url, decode_responses=True)
        try:
            await _ping(redis, url)
            rt = cls(settings, redis, SessionStore(redis))
            try:
                yield rt
            finally:
                if rt._model is not None:
                    await rt._model.close()
        finally:
            await redis.aclose()
            if embedded is not None:
                await embedded.stop()

    def model(self) -> Model:
        """One client per process, closed when the runtime closes."""
        if self._model is None:
            from harness.anthropic_model import AnthropicModel  # the SDK takes a second to import: only when needed

            self._model = AnthropicModel(self.settings.anthropic())
        return self._model

    def worker(self, model: Model, *, concurrency: int | None = None) -> Worker:
        s = self.settings
        name = worker_name()
        hidden = [s.data_dir, Path.home(), *([s.config_file] if s.config_file else [])]
        provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=s.data_dir / "sandboxes", hidden_paths=hidden))
        deps = RunnerDeps(
            store=self.store,
            mirrors=Mirrors(s.data_dir / "mirrors"),
            provider=provider,
            model=model,
            budget=s.budget(),
            limits=s.tool_limits(),
            secrets=s.secrets(),
            worker=name,
        )
        return Worker(
            queue=WorkQueue(self.redis, consumer=name, lease_ttl_s=s.lease_ttl_s),
            store=self.store,
            runner=SessionRunner(deps),
            concurrency=concurrency or s.worker_concurrency,
        )

    def api(self) -> FastAPI:
        config = ApiConfig(
            api_token=self.api_token(),
            max_prompt_bytes=self.settings.max_prompt_bytes,
            public_url=self.settings.public_url,
        )
        return create_app(self.redis, self.store, config)

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


async def _ping(redis: Redis, url: str) -> None:
    try:
        await redis.ping()
    except (RedisConnectionError, OSError) as e:
        raise ConfigError(f"cannot reach Redis at {url}: {e}") from e
