"""The egress proxy: the only way out of a local sandbox's network namespace, run by the worker.

It listens on a socket made inside the sandbox's namespace (127.0.0.1:<port> there) and connects out from the
worker's own network, after the repository's NetworkPolicy agreed (egress_policy). It speaks the two forms HTTP
clients use with HTTP_PROXY/HTTPS_PROXY (pip, npm, git, curl):

    CONNECT host:443 HTTP/1.1          a tunnel: the TLS stays between the client and the host
    GET http://host/path HTTP/1.1      plain http, forwarded once (Connection: close) with the Proxy-* headers dropped

Written here rather than taken from a library: the maintained Python proxies (proxy.py, mitmproxy) bring their own
process model or TLS interception; this needs ~150 lines of asyncio and one place where the policy is checked.
A refusal is a 403 whose status text and body carry the reason; the host is never contacted, so the answer says
nothing about whether it exists. Every connection is time-limited (idle and total) and logged with its byte counts.
"""

import asyncio
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.sandboxes.base import NetworkPolicy
from harness.sandboxes.egress_policy import Allowed, IPAddress, decide

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
Connector = Callable[[IPAddress, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

_HEAD_LIMIT_BYTES = 64 * 1024
_CHUNK_BYTES = 64 * 1024
_HOST = re.compile(r"[A-Za-z0-9_.-]{1,253}|\[[0-9A-Fa-f:.]+\]")
_DROPPED_HEADERS = frozenset({b"proxy-connection", b"proxy-authorization", b"connection", b"keep-alive"})


@dataclass(frozen=True)
class ProxyLimits:
    head_timeout_s: float = 30.0
    """How long a client may take to send its request line and headers."""
    connect_timeout_s: float = 15.0
    idle_timeout_s: float = 300.0
    """A connection with no byte in either direction for this long is closed."""
    max_connection_s: float = 3600.0
    """No connection lives longer than this, busy or not."""


class _Refusal(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def resolve(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def connect(address: IPAddress, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(str(address), port)  # a literal address: no second lookup


class EgressProxy:
    """One sandbox's proxy: its policy, and a label for the logs."""

    def __init__(
        self,
        policy: NetworkPolicy,
        label: str,
        *,
        limits: ProxyLimits = ProxyLimits(),
        resolver: Resolver = resolve,
        connector: Connector = connect,
    ) -> None:
        self._policy = policy
        self._label = label
        self._limits = limits
        self._resolve = resolver
        self._connect = connector

    async def serve(self, listening: socket.socket) -> asyncio.Server:
        return await asyncio.start_server(self.handle, sock=listening, limit=_HEAD_LIMIT_BYTES)

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        target = "?"
        counts = [0, 0]
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._limits.max_connection_s):
                async with asyncio.timeout(self._limits.head_timeout_s):
                    head = await client_r.readuntil(b"\r\n\r\n")
                method, host, port, forward = _parse(head)
                target = f"{host}:{port}"
                upstream_r, upstream_w = await self._open(host, port)
                try:
                    if method == b"CONNECT":
                        client_w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    else:
                        upstream_w.write(forward)
                    await _pipe_both(client_r, client_w, upstream_r, upstream_w, counts, self._limits.idle_timeout_s)
                finally:
                    upstream_w.close()
        except _Refusal as e:
            log.warning("egress %s: refused %s: %s", self._label, target, e.reason)
            _answer(client_w, e.status, e.reason)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            _answer(client_w, 400, "the proxy could not read an HTTP request")
        except TimeoutError:
            log.info("egress %s: %s closed at its time limit", self._label, target)
        except OSError as e:  # either side went away mid-transfer
            log.info("egress %s: %s ended: %s", self._label, target, e)
        finally:
            took = time.monotonic() - started
            log.info("egress %s: %s sent %d B, received %d B in %.1fs", self._label, target, *counts, took)
            client_w.close()

    async def _open(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            addresses = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            try:
                addresses = await self._resolve(host, port)
            except OSError as e:
                raise _Refusal(502, f"cannot resolve {host}") from e
        decision = decide(self._policy, host.strip("[]"), addresses)
        if not isinstance(decision, Allowed):
            raise _Refusal(403, decision.reason)
        try:
            async with asyncio.timeout(self._limits.connect_timeout_s):
                return await self._connect(decision.address, port)
        except (OSError, TimeoutError) as e:
            raise _Refusal(502, f"could not connect to {host}:{port}") from e


def _parse(head: bytes) -> tuple[bytes, str, int, bytes]:
    """Method, host, port, and for plain http the request to send upstream (origin-form, Connection: close)."""
    request_line, _, rest = head.partition(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise _Refusal(400, "not an HTTP/1 proxy request")
    method, target, version = parts
    text = target.decode("ascii", errors="replace")
    if method == b"CONNECT":
        host, _, port_text = text.rpartition(":")
        return method, _checked_host(host), _checked_port(port_text), b""
    try:
        url = urlsplit(text)
        port = url.port or 80
    except ValueError as e:
        raise _Refusal(400, f"{text!r} is not a URL") from e
    if url.scheme != "http" or not url.hostname:
        raise _Refusal(400, "only http://host/... requests and CONNECT (for https) go through this proxy")
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    kept = [h for h in rest.split(b"\r\n") if h and h.split(b":", 1)[0].strip().lower() not in _DROPPED_HEADERS]
    forward = b"\r\n".join([b" ".join([method, path.encode(), version]), *kept, b"Connection: close", b"", b""])
    return method, _checked_host(host), port, forward


def _checked_host(host: str) -> str:
    if not _HOST.fullmatch(host):
        raise _Refusal(400, f"{host!r} is not a host name")
    return host


def _checked_port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise _Refusal(400, f"{text!r} is not a port")
    return int(text)


async def _pipe_both(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    upstream_r: asyncio.StreamReader,
    upstream_w: asyncio.StreamWriter,
    counts: list[int],
    idle_timeout_s: float,
) -> None:
    """Copy both ways until both sides are done; counts[0] is what the sandbox sent, counts[1] what it got."""
    last_activity = [time.monotonic()]

    async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        while chunk := await reader.read(_CHUNK_BYTES):
            counts[index] += len(chunk)
            last_activity[0] = time.monotonic()
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    copies = [asyncio.create_task(copy(client_r, upstream_w, 0)), asyncio.create_task(copy(upstream_r, client_w, 1))]
    try:
        while copies:
            done, _ = await asyncio.wait(copies, timeout=idle_timeout_s, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                copies.remove(task)
                task.result()  # an error in either direction ends the connection
            if not done and time.monotonic() - last_activity[0] >= idle_timeout_s:
                raise TimeoutError
    finally:
        for task in copies:
            task.cancel()
        await asyncio.gather(*copies, return_exceptions=True)


def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    # The reason goes in the status line too: pip and git print it ("Tunnel connection failed: 403 ...").
    text = "".join(c if c.isprintable() and c.isascii() else "?" for c in reason)[:300]
    body = (text + "\n").encode()
    writer.write(
        f"HTTP/1.1 {status} {text}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n".encode()
        + body
    )
