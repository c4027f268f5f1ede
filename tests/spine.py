"""Helpers for end-to-end tests: settings pointed at the test Redis and the Anthropic stand-in, and a way to
run one session to its end with an in-process worker."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import SecretStr

from control_plane.config import Settings
from control_plane.models import NewSession, Session
from control_plane.runtime import Runtime
from control_plane.sessions import create_session
from control_plane.worker import Worker
from harness.events import TERMINAL_STATUSES
from harness.testing.anthropic_standin import AnthropicStandIn

SECRET = "sk-ant-test-" + "9f3c1e7a5b" * 3
"""The platform's model key in these tests: it must never show up in a sandbox."""


def settings_for(tmp_path: Path, redis_url: str, base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "redis_url": redis_url,
        "anthropic_api_key": SecretStr(SECRET),
        "anthropic_base_url": base_url,
        "model_retry_base_s": 0.01,
        "lease_ttl_s": 2.0,
        **overrides,
    }
    return Settings.model_validate(values)


def marker() -> str:
    """A unique tag for a prompt, so the stand-in routes the session's requests to its own script."""
    return f"[run:{uuid.uuid4().hex[:10]}]"


async def wait_status(rt: Runtime, session_id: str, statuses: set[str], timeout_s: float = 60) -> Session:
    async with asyncio.timeout(timeout_s):
        while True:
            session = await rt.store.get(session_id)
            if session.status in statuses:
                return session
            await asyncio.sleep(0.05)


async def wait_event(rt: Runtime, session_id: str, kind: str, timeout_s: float = 60) -> None:
    async with asyncio.timeout(timeout_s):
        while kind not in [e.event.kind for e in await rt.store.events(session_id)]:
            await asyncio.sleep(0.05)


async def start(rt: Runtime, repo: Path | str, prompt: str, base: str | None = None) -> Session:
    req = NewSession(repo=str(repo), prompt=prompt, base=base, requested_by="ana", source="cli")
    return await create_session(rt.store, req, max_prompt_bytes=rt.settings.max_prompt_bytes)


@asynccontextmanager
async def worker_running(rt: Runtime, concurrency: int = 2) -> AsyncIterator[Worker]:
    """An in-process worker for the duration of the block, stopped gracefully after it."""
    worker = rt.worker(rt.model(), concurrency=concurrency)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await task


async def run_to_end(rt: Runtime, repo: Path | str, prompt: str, timeout_s: float = 60) -> Session:
    """Create a session and run a worker until the session has ended."""
    session = await start(rt, repo, prompt)
    async with worker_running(rt):
        return await wait_status(rt, session.id, set(TERMINAL_STATUSES), timeout_s)


def spawn_worker(
    rt: Runtime, standin: AnthropicStandIn, name: str, **env: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """A `nightshift worker` process on the test Redis and stand-in; its output goes to the returned file."""
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "REDIS_URL": str(rt.settings.redis_url),
        "NIGHTSHIFT_DATA_DIR": str(rt.settings.data_dir),
        "ANTHROPIC_API_KEY": SECRET,
        "ANTHROPIC_BASE_URL": standin.base_url,
        **env,
    }
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = rt.settings.data_dir / f"worker-{name}.log"
    cli = Path(sys.executable).parent / "nightshift"
    with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([str(cli), "worker"], env=environ, stdout=log, stderr=log), log_path
