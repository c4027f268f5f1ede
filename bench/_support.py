"""Shared by the benchmarks: a private redis-server, a throwaway git remote, settings pointed at both."""

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from pydantic import SecretStr

from control_plane.config import Settings
from control_plane.models import NewSession, Session
from control_plane.runtime import Runtime
from control_plane.sessions import create_session
from harness.events import Event

KEY = "sk-bench-not-a-real-key-000000"
_REDIS_PASSWORD = "bench-redis-password-0000"


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is required: run ./install.sh"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        argv = [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", tmp]
        # with a password: workers refuse a Redis that answers without one
        proc = subprocess.Popen([*argv, "--requirepass", _REDIS_PASSWORD], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        try:
            yield f"redis://:{_REDIS_PASSWORD}@127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


def git(*args: str, cwd: Path | None = None) -> None:
    env = {
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def make_remote(root: Path, files: int) -> Path:
    """A bare repository with `files` small files spread over directories of 100."""
    src, bare = root / "src", root / "remote.git"
    for i in range(files):
        path = src / f"pkg{i // 100:03}" / f"mod{i:05}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE_{i} = {i}\n")
    git("init", "-q", "-b", "main", cwd=src)
    git("add", "-A", cwd=src)
    git("commit", "-q", "-m", "files", cwd=src)
    git("clone", "-q", "--bare", str(src), str(bare))
    return bare


def settings(root: Path, redis_url: str, base_url: str, **extra: object) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": root / "data",
            "redis_url": redis_url,
            "anthropic_api_key": SecretStr(KEY),
            "anthropic_base_url": base_url,
            "max_steps": 10_000,
            **extra,
        }
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run_finished_session(rt: Runtime, repo: Path, prompt: str) -> tuple[float, Session, list[Event]]:
    """Create a session, run it on an in-process worker to its end; (request time, final record, its events)."""
    worker = rt.worker(rt.model(), concurrency=1)
    task = asyncio.create_task(worker.run())
    started = time.time()
    session = await create_session(rt.store, NewSession(repo=str(repo), prompt=prompt), max_prompt_bytes=10_000)
    try:
        while (await rt.store.get(session.id)).status not in {"finished", "failed"}:
            await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await task
    final = await rt.store.get(session.id)
    assert final.status == "finished", final.error
    return started, final, [e.event for e in await rt.store.events(session.id)]


async def wait_healthy(url: str, *, timeout_s: float = 20.0) -> None:
    """Until a server started in another process answers /healthz."""
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            await asyncio.sleep(0.05)
    raise SystemExit("the server did not start")
