"""The embedded default: a private redis-server under the data dir, reached over a unix socket.

Append-only file on, so sessions survive a restart. A second nightshift process on the same data dir
reuses the running server instead of starting another; only the process that started it stops it.
"""

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from harness.errors import ConfigError


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.socket = self.dir / "redis.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def start(self, timeout_s: float = 15.0) -> str:
        if await self._alive():
            return self.url
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigError(
                "redis-server is not installed: run ./install.sh (or apt-get install redis-server), "
                "or point REDIS_URL at a Redis you run"
            )
        if len(str(self.socket)) > 100:
            raise ConfigError(f"NIGHTSHIFT_DATA_DIR is too deep for a unix socket ({self.socket}): use a shorter path")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        command = [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--logfile",
            "redis.log",
        ]
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while not await self._alive():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._proc.kill()
                raise ConfigError(f"embedded redis-server did not start; see {self.dir / 'redis.log'}")
            await asyncio.sleep(0.05)
        return self.url

    async def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()  # SIGTERM: redis flushes the append-only file and exits
        await asyncio.to_thread(self._proc.wait, 30)
        self._proc = None

    async def _alive(self) -> bool:
        if not self.socket.exists():
            return False
        client = Redis.from_url(self.url)
        try:
            return bool(await client.ping())
        except (RedisConnectionError, OSError):
            return False  # a stale socket file from a server that is gone
        finally:
            await client.aclose()
