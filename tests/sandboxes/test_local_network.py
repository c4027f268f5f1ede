"""The local sandbox's network with real bubblewrap, real namespaces and curl: the host's loopback is out of reach,
the egress proxy applies the policy, and the sandbox's own loopback is shared by its commands."""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import free_port
from redis.asyncio import Redis

from harness.sandboxes.base import NetworkPolicy, SandboxSpec
from harness.sandboxes.local import LocalSandbox, LocalSandboxConfig, LocalSandboxProvider


class HostListener:
    """A TCP service on the host's loopback (the stand-in for Redis, the API, a database): counts connections."""

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
                return  # closed by the test
            self.connections += 1
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nhost-only")
            conn.close()


class HostWebServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", "13")
                self.end_headers()
                self.wfile.write(b"allowed-by-me")

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def listener() -> Iterator[HostListener]:
    found = HostListener()
    yield found
    found.sock.close()


@pytest.fixture
def web() -> Iterator[HostWebServer]:
    server = HostWebServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
async def provider(tmp_path: Path) -> AsyncIterator[LocalSandboxProvider]:
    made = LocalSandboxProvider(LocalSandboxConfig(root_dir=tmp_path / "sandboxes", isolation="bwrap"))
    yield made
    await made.close()


async def sandbox(provider: LocalSandboxProvider, policy: NetworkPolicy, name: str = "s1") -> LocalSandbox:
    return await provider.create(SandboxSpec(session_id=name, network=policy))


def dial(port: int, host: str = "127.0.0.1") -> str:
    """Shell that tries a plain TCP connection, then http and https through the proxy, to a port; prints what the
    proxy answered, and a CONNECTED marker for any attempt that got through."""
    proxied = "curl -sS -m 5 --noproxy '' -x \"$HTTP_PROXY\" -o /tmp/answer -w '%{http_code}\\n'"
    return (
        f"timeout 5 bash -c 'exec 3<>/dev/tcp/{host}/{port}' && echo DIRECT-CONNECTED; "
        f"{proxied} http://{host}:{port}/; cat /tmp/answer; grep -q host-only /tmp/answer && echo PROXY-CONNECTED; "
        f"{proxied} https://{host}:{port}/ && echo TUNNEL-CONNECTED; exit 9"
    )


async def test_a_command_cannot_reach_the_hosts_loopback(
    provider: LocalSandboxProvider, listener: HostListener
) -> None:
    sb = await sandbox(provider, NetworkPolicy())
    result = await sb.exec(dial(listener.port), timeout_s=60)
    assert "CONNECTED" not in result.output and result.exit_code == 9, result.output
    assert "127.0.0.1 is a loopback address" in result.output  # the proxy's 403, as curl shows it
    assert listener.connections == 0
    # the listener works: the worker itself reaches it
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5):
        pass


async def test_a_command_cannot_reach_the_workers_redis(provider: LocalSandboxProvider, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        before = (await redis.info("stats"))["total_connections_received"]
        port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
        sb = await sandbox(provider, NetworkPolicy())
        result = await sb.exec(dial(port))
        after = (await redis.info("stats"))["total_connections_received"]
    finally:
        await redis.aclose()
    assert "CONNECTED" not in result.output and result.exit_code == 9, result.output
    assert after == before  # the INFO connection is reused: nothing else connected


async def test_a_named_host_is_reachable_through_the_proxy(provider: LocalSandboxProvider, web: HostWebServer) -> None:
    port = web.server_address[1]
    named = await sandbox(provider, NetworkPolicy(mode="allowlist", domains=["localhost"]), "named")
    by_range = await sandbox(provider, NetworkPolicy(mode="allowlist", cidrs=["127.0.0.1/32"]), "ranged")
    for sb, host in ((named, "localhost"), (by_range, "127.0.0.1")):
        result = await sb.exec(f'curl -sS -m 10 --noproxy "" -x "$HTTP_PROXY" http://{host}:{port}/')
        assert (result.exit_code, result.output) == (0, "allowed-by-me"), result.output
        # direct, without the proxy, it is still out of reach
        direct = await sb.exec(f"curl -sS -m 5 --noproxy '*' http://{host}:{port}/")
        assert direct.exit_code != 0
    assert web.hits == 2


async def test_the_allow_list_refuses_what_it_does_not_name(provider: LocalSandboxProvider, web: HostWebServer) -> None:
    sb = await sandbox(provider, NetworkPolicy(mode="allowlist", domains=["pypi.org"]))
    url = f"127.0.0.1:{web.server_address[1]}/"
    result = await sb.exec(f'curl -sS -m 10 --noproxy "" -x "$HTTP_PROXY" https://{url}')
    assert result.exit_code != 0 and "CONNECT tunnel failed, response 403" in result.output
    result = await sb.exec(f'curl -sS -m 10 --noproxy "" -x "$HTTP_PROXY" http://{url}')
    assert "127.0.0.1 is not in the allow-list" in result.output
    assert web.hits == 0


async def test_blocked_has_no_proxy_at_all(provider: LocalSandboxProvider, web: HostWebServer) -> None:
    sb = await sandbox(provider, NetworkPolicy(mode="blocked"))
    port = web.server_address[1]
    result = await sb.exec(
        f"env | grep -ci proxy; curl -sS -m 5 --noproxy '' -x http://127.0.0.1:3128 http://127.0.0.1:{port}/"
    )
    assert result.output.startswith("0\n") and "Failed to connect to 127.0.0.1 port 3128" in result.output
    assert result.exit_code != 0
    assert web.hits == 0


async def test_commands_of_one_sandbox_share_its_loopback(provider: LocalSandboxProvider) -> None:
    sb, other = await sandbox(provider, NetworkPolicy()), await sandbox(provider, NetworkPolicy(), "other")
    port = free_port()
    await sb.write_file("index.html", b"served inside")
    server = f"python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 &"
    wait = f"for i in $(seq 50); do curl -s http://127.0.0.1:{port}/index.html && break; sleep 0.1; done"
    result = await sb.exec(f"{server} {wait}", timeout_s=60)
    assert result.output == "served inside"
    # a server one command runs is what a concurrent command of the same sandbox reaches, not another sandbox's
    second = free_port()  # not the first server's port: its socket may linger a moment after its command ended
    serving = f"python3 -m http.server {second} --bind 127.0.0.1 >/dev/null 2>&1 & sleep 20"
    running = asyncio.create_task(sb.exec(serving, timeout_s=60))
    try:
        loopback = await sb.loopback()
        for _ in range(300):
            if await loopback.accepts(second):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the server never listened")
        fetched = await sb.exec(f"curl -sS -m 5 http://127.0.0.1:{second}/index.html")
        elsewhere = await other.exec(f"curl -sS -m 5 http://127.0.0.1:{second}/index.html")
        assert not await (await other.loopback()).accepts(second)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert fetched.output == "served inside"
    assert elsewhere.exit_code != 0
    # and the host's loopback never had it
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", second), timeout=2):
        pass


def namespaces_held() -> set[str]:
    """The network namespaces this process holds open (as descriptors)."""
    held = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            held.add(os.readlink(fd))
        except FileNotFoundError:
            continue  # the descriptor listing the directory itself
    return {link for link in held if link.startswith("net:")}


async def test_terminate_releases_the_network(provider: LocalSandboxProvider) -> None:
    sb = await sandbox(provider, NetworkPolicy())
    namespace = (await sb.exec("readlink /proc/self/ns/net")).output.strip()
    assert namespace in namespaces_held()
    await sb.terminate()
    assert namespace not in namespaces_held()


NON_ROOT_WORKER = """
import asyncio, sys
from pathlib import Path
from harness.errors import ConfigError
from harness.sandboxes.base import SandboxSpec
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider

async def main() -> None:
    provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=Path(sys.argv[1]), isolation="bwrap"))
    sandbox = await provider.create(SandboxSpec(session_id="s1"))
    try:
        result = await sandbox.exec("echo RAN; cat /proc/net/dev")
    except ConfigError as e:
        print("ConfigError:", e)
    else:
        print(result.output)

asyncio.run(main())
"""


def test_a_worker_without_root_fails_closed() -> None:
    """No CAP_SYS_ADMIN, no namespace: a clear ConfigError, never a command on the host's network."""
    root = Path(tempfile.mkdtemp(prefix="nightshift-nonroot-", dir="/var/tmp"))  # pytest's tmp is root's only
    root.chmod(0o777)
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
    run = subprocess.run(
        [*drop, sys.executable, "-c", NON_ROOT_WORKER, str(root)], capture_output=True, text=True, timeout=60
    )
    assert run.stdout.startswith("ConfigError: the local sandbox needs root"), run.stdout + run.stderr
    assert "RAN" not in run.stdout
    shutil.rmtree(root)


async def test_an_idle_sandbox_lets_go_of_its_network_but_never_mid_command(tmp_path: Path) -> None:
    config = LocalSandboxConfig(root_dir=tmp_path / "sandboxes", isolation="bwrap", network_idle_release_s=0.5)
    provider = LocalSandboxProvider(config)
    try:
        idle, busy, other = [await provider.create(SandboxSpec(session_id=n)) for n in ("idle", "busy", "other")]
        first = (await idle.exec("readlink /proc/self/ns/net")).output.strip()
        running = asyncio.create_task(busy.exec("readlink /proc/self/ns/net; sleep 2; readlink /proc/self/ns/net"))
        await asyncio.sleep(1)
        await other.exec("true")  # any command sweeps the networks idle for longer than 0.5 s
        assert first not in namespaces_held()
        # the busy sandbox's command kept its namespace throughout
        before, after = (await running).output.split()
        assert before == after and before in namespaces_held()
        # the idle one gets a namespace again on its next command (the kernel may reuse the freed one's inode number)
        again = (await idle.exec("readlink /proc/self/ns/net")).output.strip()
        assert again in namespaces_held()
    finally:
        await provider.close()
