"""A real redis-server with its append-only file, on a free loopback port, that tests and benchmarks stop and start
again on the same port and data dir: `restart(hard=True)` is kill -9, `restart()` a SIGTERM (which flushes the file).

The append-only settings are the embedded default's (`control_plane.embedded_redis`): appendonly yes and Redis's
own default fsync policy, everysec, unless `appendfsync` says otherwise.
"""

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

FsyncPolicy = Literal["always", "everysec", "no"]


class RedisServer:
    def __init__(self, workdir: Path, *, appendfsync: FsyncPolicy = "everysec") -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is required: run ./install.sh"
        self.binary, self.workdir, self.appendfsync = binary, workdir, appendfsync
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port: int = s.getsockname()[1]
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        command += ["--save", "", "--appendonly", "yes", "--appendfsync", self.appendfsync]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while not self._answers():  # answers PING only once the append-only file is loaded
            assert self._proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def stop(self, *, hard: bool = False) -> None:
        """SIGTERM (Redis flushes the append-only file and exits) or, with hard, SIGKILL."""
        assert self._proc is not None, "not started"
        self._proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        self._proc.wait(30)
        self._proc = None

    def restart(self, *, hard: bool = False, down_s: float = 0.0) -> None:
        self.stop(hard=hard)
        time.sleep(down_s)  # how long clients find nobody at the port
        self.start()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._proc is not None:
            self.stop()
