"""uvicorn serving a stand-in app on a free loopback port, in a daemon thread, so stand-ins work from sync and async
tests alike. Shared by every stand-in (Anthropic, OpenAI, GitHub, Slack)."""

import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette


class ServerThread:
    """uvicorn on 127.0.0.1 in a daemon thread, on a socket bound up front so the port is known at once."""

    def __init__(self, app: Starlette, name: str) -> None:
        self.name = name
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,  # leave the test process's logging configuration alone
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",  # nothing here speaks websockets; skips importing a websockets implementation
            http="h11",
            timeout_graceful_shutdown=2,  # a client that abandoned a stream must not hold up stop()
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=name, daemon=True
        )

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.name} server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._socket.close()  # uvicorn closes it on a clean shutdown; closing twice is harmless
