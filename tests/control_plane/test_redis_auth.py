"""`serve` and `worker` refuse a TCP Redis that answers a client sending no password, saying how to fix it, unless
the operator declares it private; the embedded default (a unix socket in the data dir) is never in question."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import free_port, wait_until_up

from control_plane.embedded_redis import EmbeddedRedis
from control_plane.redis_auth import anonymous, lets_anyone_in

CLI = str(Path(sys.executable).parent / "nightshift")
ACL_USER = ("--user", "nightshift", "on", ">s3cret-pw", "~*", "&*", "+@all")


def env_for(tmp_path: Path, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "d"),
        "ANTHROPIC_API_KEY": "sk-ant-unused",
        "REDIS_URL": redis_url,
        **extra,
    }


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"]])
def test_an_open_redis_is_refused_with_the_fix(
    tmp_path: Path, redis_server: Callable[..., str], command: list[str]
) -> None:
    url = redis_server(password=None)
    done = subprocess.run([CLI, *command], env=env_for(tmp_path, url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert "answers clients that send no password" in said
    assert "requirepass" in said and "ACL SETUSER" in said and "rediss://" in said and "--insecure-redis" in said


def test_a_password_in_the_url_does_not_help_when_the_server_lets_anyone_in(
    tmp_path: Path, redis_server: Callable[..., str]
) -> None:
    url = redis_server(*ACL_USER, password=None).replace("redis://", "redis://nightshift:s3cret-pw@")
    done = subprocess.run([CLI, "worker"], env=env_for(tmp_path, url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "answers clients that send no password" in done.stderr
    assert "s3cret-pw" not in done.stderr


@pytest.mark.parametrize("declared", [("--insecure-redis",), ("NIGHTSHIFT_INSECURE_REDIS",)])
def test_a_redis_declared_private_is_served(
    tmp_path: Path, redis_server: Callable[..., str], declared: tuple[str]
) -> None:
    port = free_port()
    flag = declared if declared[0].startswith("--") else ()
    env = env_for(tmp_path, redis_server(password=None), NIGHTSHIFT_API_TOKEN="t" * 24)
    env |= {declared[0]: "true"} if not flag else {}
    server = subprocess.Popen(
        [CLI, "serve", "--api-only", "--port", str(port), *flag], env=env, stdout=subprocess.DEVNULL
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(30)


def test_a_redis_that_wants_a_password_is_served(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    env = env_for(tmp_path, redis_url, NIGHTSHIFT_API_TOKEN="t" * 24)
    server = subprocess.Popen([CLI, "serve", "--api-only", "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until_up(f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(30)


def test_an_unreachable_redis_is_still_said_to_be_unreachable(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    done = subprocess.run([CLI, "worker"], env=env_for(tmp_path, url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "cannot reach Redis at" in done.stderr, done.stderr


async def test_the_probe_sends_no_credentials_and_skips_unix_sockets(tmp_path: Path, redis_url: str) -> None:
    assert anonymous("redis://u:pw@h:6379/2?password=x&ssl_cert_reqs=none") == "redis://h:6379/2?ssl_cert_reqs=none"
    assert await lets_anyone_in(redis_url) is False  # the test Redis wants a password
    embedded = EmbeddedRedis(tmp_path / "data")
    url = await embedded.start()
    try:
        assert await lets_anyone_in(url) is False  # its socket is the data dir's: not a network listener
    finally:
        await embedded.stop()
