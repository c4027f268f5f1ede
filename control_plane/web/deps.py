"""The app's parts, as FastAPI dependencies."""

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from control_plane.config import Settings
from control_plane.git import GitCredentials
from control_plane.store import SessionStore
from control_plane.web.live import LiveHub
from control_plane.web.templating import Renderer


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.store
    return store


def _redis(request: Request) -> Redis:
    redis: Redis = request.app.state.store.redis
    return redis


def _hub(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.hub
    return hub


def renderer(request: Request) -> Renderer:
    r: Renderer = request.app.state.renderer
    return r


def _credentials(request: Request) -> GitCredentials | None:
    credentials: GitCredentials | None = request.app.state.credentials
    return credentials


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Store = Annotated[SessionStore, Depends(_store)]
RedisDep = Annotated[Redis, Depends(_redis)]
Hub = Annotated[LiveHub, Depends(_hub)]
Render = Annotated[Renderer, Depends(renderer)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Credentials = Annotated[GitCredentials | None, Depends(_credentials)]
