"""The web UI on a real HTTP server in a background thread (its own event loop and Redis client), and a small SSE
reader, for tests that need a stream a browser or many viewers can hold open."""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import uvicorn
from conftest import free_port
from redis.asyncio import Redis
from starlette.types import ASGIApp
from web_helpers import TOKEN, csrf_of

from control_plane.config import Settings
from control_plane.store import SessionStore
from control_plane.web.app import create_web_app
from control_plane.web.config import WebConfig, web_config


class AppThread:
    """Any ASGI app on 127.0.0.1 and a free port, served from a background thread with its own event loop.
    `make_app` runs inside that loop, so whatever the app holds (a Redis client) belongs to it."""

    def __init__(self, make_app: Callable[[AsyncExitStack], Awaitable[ASGIApp]]) -> None:
        self.make_app, self.port = make_app, free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        async with AsyncExitStack() as stack:
            app = await self.make_app(stack)
            self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
            await self._server.serve()

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while self._server is None or not self._server.started:
            assert time.monotonic() < deadline and self._thread.is_alive(), "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        assert self._server is not None
        self._server.should_exit = True
        self._thread.join(10)


class WebServerThread(AppThread):
    """The web UI alone (no API, no worker) on the test Redis."""

    def __init__(self, redis_url: str, data_dir: Path, **config: object) -> None:
        super().__init__(self._app)
        self.redis_url = redis_url
        self.settings = Settings.model_validate({"data_dir": data_dir, "api_token": TOKEN})
        self.config: WebConfig = web_config(self.settings, TOKEN).model_copy(update=config)

    async def _app(self, stack: AsyncExitStack) -> ASGIApp:
        redis = Redis.from_url(self.redis_url, decode_responses=True)
        stack.push_async_callback(redis.aclose)
        return create_web_app(SessionStore(redis), self.config, self.settings)


@asynccontextmanager
async def signed_in_client(base_url: str, name: str = "ana") -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        form = await client.get("/login")
        r = await client.post("/login", data={"csrf": csrf_of(form.text), "name": name, "token": TOKEN})
        assert r.status_code == 303, r.text
        yield client


@dataclass
class Sse:
    event: str = "message"
    data: list[str] = field(default_factory=list)
    id: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.data)


async def sse_events(response: httpx.Response) -> AsyncIterator[Sse]:
    """Dispatch events as EventSource does: fields until a blank line; comments ignored."""
    current = Sse()
    async for line in response.aiter_lines():
        if line == "":
            if current.data or current.id is not None:
                yield current
            current = Sse()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data.append(value)
            elif name == "event":
                current.event = value
            elif name == "id":
                current.id = value
