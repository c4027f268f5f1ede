"""The screenshot tool's Chromium runs in the sandbox's own network namespace, and every request and navigation
after the first URL is checked: real Chromium, real bubblewrap, a server started inside the sandbox."""

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from conftest import free_port

from harness.errors import SandboxError
from harness.sandboxes.base import SandboxSpec
from harness.sandboxes.local import LocalSandbox, LocalSandboxConfig, LocalSandboxProvider
from harness.screenshot import ChromiumConfig, PlaywrightScreenshotter

# Serves site/ and answers /go?<url> with a 302 to <url>: a page that redirects wherever it is told.
REDIRECTOR = """
import http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/go?"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/go?"):])
            self.end_headers()
        else:
            super().do_GET()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


class HostService:
    """A listener on the host's loopback, standing for the API port: counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>the control plane</h1>")
            conn.close()


@pytest.fixture
def api() -> Iterator[HostService]:
    service = HostService()
    yield service
    service.sock.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[LocalSandbox, int]]:
    """A sandbox serving site/ (and /go?...) on its own loopback for the test's length."""
    provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=tmp_path / "sandboxes", isolation="bwrap"))
    sandbox = await provider.create(SandboxSpec(session_id="shots"))
    await sandbox.write_file("serve.py", REDIRECTOR.encode())
    await sandbox.write_file("site/index.html", b"<html><body style='background:#123456'>home</body></html>")
    port = free_port()
    server = asyncio.create_task(sandbox.exec(f"cd site && python3 ../serve.py {port}", timeout_s=300))
    loopback = await sandbox.loopback()
    for _ in range(300):
        if await loopback.accepts(port):
            break
        assert not server.done(), (await server).output
        await asyncio.sleep(0.1)
    yield sandbox, port
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
    await provider.close()


async def capture(sandbox: LocalSandbox, url: str, blocked_ports: list[int]) -> bytes:
    shooter = PlaywrightScreenshotter(ChromiumConfig(blocked_ports=blocked_ports))
    shooter.check_url(url)
    return await shooter.capture(url, await sandbox.loopback(), width=400, height=300, full_page=False, timeout_s=30)


async def test_chromium_sees_the_sandboxs_loopback_not_the_hosts(
    served: tuple[LocalSandbox, int], api: HostService
) -> None:
    sandbox, port = served
    # a page that pulls an image from the host service's port: on the sandbox's loopback nothing is there
    page = f"<html><body>home<img src='http://127.0.0.1:{api.port}/logo.png'></body></html>"
    await sandbox.write_file("site/page.html", page.encode())
    png = await capture(sandbox, f"http://localhost:{port}/page.html", blocked_ports=[])
    assert png.startswith(b"\x89PNG")
    assert api.connections == 0


async def test_a_redirect_within_the_sandbox_is_followed(served: tuple[LocalSandbox, int]) -> None:
    sandbox, port = served
    png = await capture(sandbox, f"http://127.0.0.1:{port}/go?/index.html", blocked_ports=[])
    assert png.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("http://127.0.0.1:{api}/api/sessions", "port {api} belongs to the control plane"),
        ("http://10.77.0.1/latest/meta-data", "only pages the sandbox serves on localhost"),
        ("http://169.254.169.254/latest/meta-data", "only pages the sandbox serves on localhost"),
        # Chromium itself refuses that one before any request: no guard needed, the tool still reports it
        ("file:///etc/passwd", "ERR_UNSAFE_REDIRECT"),
    ],
)
async def test_a_redirect_out_of_the_sandbox_is_refused_and_reported(
    served: tuple[LocalSandbox, int], api: HostService, target: str, says: str
) -> None:
    sandbox, port = served
    target, says = target.format(api=api.port), says.format(api=api.port)
    with pytest.raises(SandboxError, match="capture") as refused:
        await capture(sandbox, f"http://127.0.0.1:{port}/go?{target}", blocked_ports=[api.port])
    assert says in str(refused.value) and target in str(refused.value)
    assert api.connections == 0


@pytest.mark.parametrize(
    "markup",
    [
        "<iframe src='data:text/html,<h1>not served by the sandbox</h1>'></iframe>",
        "<script>location.href = 'http://169.254.169.254/latest/meta-data'</script>",
        "<iframe src='http://127.0.0.1:{api}/api/sessions'></iframe>",
    ],
)
async def test_documents_from_elsewhere_are_refused(
    served: tuple[LocalSandbox, int], api: HostService, markup: str
) -> None:
    sandbox, port = served
    await sandbox.write_file("site/leads-away.html", markup.format(api=api.port).encode())
    with pytest.raises(SandboxError, match="refused to capture"):
        await capture(sandbox, f"http://127.0.0.1:{port}/leads-away.html", blocked_ports=[api.port])
    assert api.connections == 0
