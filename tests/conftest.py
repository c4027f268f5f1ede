"""Shared fixtures: a private redis-server per test session, real git repositories, settings."""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from spine import settings_for

from control_plane.runtime import Runtime
from harness.testing.anthropic_standin import AnthropicStandIn

collect_ignore = ["fixtures"]  # test files there belong to the repositories the eval fixtures build, not to us
REDIS_PASSWORD = "test-redis-password-5e1d07c2"
"""The test Redis servers want a password, as a deployed one must (serve and worker refuse one that does not)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(base: str, timeout_s: float = 30.0) -> None:
    """Until a server started as a subprocess answers /healthz."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered {base}/healthz within {timeout_s:.0f} s")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on a free port, never the machine's shared one."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is required for the tests: run ./install.sh"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*argv, "--dir", str(workdir), "--requirepass", REDIS_PASSWORD],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
        time.sleep(0.05)
    yield f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start redis-servers of the test's own, with the given arguments (persistence...); stopped after the test.
    They want REDIS_PASSWORD unless `password` is None (a server open to anyone, for the tests that refuse one)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, password: str | None = REDIS_PASSWORD) -> str:
        port = free_port()
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), *args]
        argv += ["--requirepass", password] if password else []
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert time.monotonic() < deadline and procs[-1].poll() is None, "redis-server did not start"
            time.sleep(0.05)
        return f"redis://:{password}@127.0.0.1:{port}/0" if password else f"redis://127.0.0.1:{port}/0"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


def sh(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


CALC = """def add(a, b):
    return a - b
"""
TEST_CALC = """from calc import add


def test_add():
    assert add(2, 3) == 5
"""


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository acting as the remote, holding a tiny project with a bug (add subtracts)."""
    src, bare = tmp_path / "src", tmp_path / "remote.git"
    src.mkdir()
    (src / "calc.py").write_text(CALC)
    (src / "test_calc.py").write_text(TEST_CALC)
    (src / "README.md").write_text("# calc\n")
    sh("git", "init", "-q", "-b", "main", cwd=src)
    sh("git", "add", "-A", cwd=src)
    sh("git", "commit", "-q", "-m", "initial", cwd=src)
    sh("git", "clone", "-q", "--bare", str(src), str(bare))
    return bare


@pytest.fixture
def standin() -> Iterator[AnthropicStandIn]:
    """The scripted Anthropic stand-in; tests register a Script per session (routed by a marker)."""
    with AnthropicStandIn() as s:
        yield s


@pytest.fixture
async def rt(tmp_path: Path, redis_url: str, standin: AnthropicStandIn, redis: Redis) -> AsyncIterator[Runtime]:
    """A control plane on the test Redis (flushed), talking to the stand-in."""
    async with Runtime.open(settings_for(tmp_path, redis_url, standin.base_url)) as runtime:
        yield runtime
