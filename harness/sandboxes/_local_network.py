"""A local sandbox's network: its own namespace (only `lo`) and the egress proxy listening inside it.

One per sandbox per worker, made on first use, so every command of the sandbox and the screenshot tool's Chromium
share one loopback: a server one command starts is what a concurrent one (or Chromium) reaches. A worker that
restarts makes a new one on first use, as does a sandbox whose idle network was released (commands never outlive
their exec call, so nothing is lost with the old one).

The proxy listens on 127.0.0.1:<proxy_port> inside the namespace; commands get HTTP(S)_PROXY pointing there. With
the policy "blocked" nothing listens and commands reach nothing but their own loopback.
"""

import asyncio
import collections
import contextlib
import errno
import logging
import socket
import time
import weakref
from collections.abc import AsyncIterator

from harness.sandboxes._netns import NetNamespace
from harness.sandboxes.base import NetworkPolicy, SandboxSpec
from harness.sandboxes.egress_proxy import EgressProxy, ProxyLimits

log = logging.getLogger(__name__)

_PROBE_TIMEOUT_S = 2.0


class SandboxNetwork:
    def __init__(self, namespace: NetNamespace, proxy: asyncio.Server | None, proxy_port: int) -> None:
        self._namespace = namespace
        self._proxy = proxy
        self._proxy_port = proxy_port

    @classmethod
    async def open(cls, policy: NetworkPolicy, label: str, proxy_port: int, limits: ProxyLimits) -> "SandboxNetwork":
        namespace = await NetNamespace.create()
        if policy.mode == "blocked":
            return cls(namespace, None, proxy_port)
        listening = await namespace.socket()
        try:
            listening.bind(("127.0.0.1", proxy_port))
            listening.listen(128)
            listening.setblocking(False)
            server = await EgressProxy(policy, label, limits=limits).serve(listening)
        except BaseException:
            listening.close()
            namespace.close()
            raise
        return cls(namespace, server, proxy_port)

    def env(self) -> dict[str, str]:
        """What tells pip, npm, git and curl to go through the proxy (nothing when there is none)."""
        if self._proxy is None:
            return {}
        url = f"http://127.0.0.1:{self._proxy_port}"
        names = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
        return {**{n: url for n in names}, "NO_PROXY": "localhost,127.0.0.1,::1", "no_proxy": "localhost,127.0.0.1,::1"}

    def enter(self) -> None:
        """A command's step between fork and exec: join the namespace."""
        self._namespace.enter()

    def enter_argv(self) -> list[str]:
        return self._namespace.enter_argv()

    async def accepts(self, port: int) -> bool:
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            probe = await self._namespace.socket(family)
            if await _connects(probe, host, port):
                return True
        return False

    async def close(self) -> None:
        self.close_now()
        if self._proxy is not None:
            with contextlib.suppress(TimeoutError):  # tunnels still open are cut with the namespace
                async with asyncio.timeout(1):
                    await self._proxy.wait_closed()

    def close_now(self) -> None:
        """Stop listening and let go of the namespace (it ends once no process or socket is left in it)."""
        if self._proxy is not None:
            self._proxy.close()
        self._namespace.close()


class HostLoopback:
    """Isolation "none": the sandbox shares the worker's network, loopback included."""

    def enter_argv(self) -> list[str]:
        return []

    async def accepts(self, port: int) -> bool:
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            if await _connects(socket.socket(family, socket.SOCK_STREAM), host, port):
                return True
        return False


async def _connects(sock: socket.socket, host: str, port: int) -> bool:
    with sock:
        sock.setblocking(False)
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except (ConnectionRefusedError, TimeoutError):
            return False
        except OSError as e:
            if e.errno in (errno.EADDRNOTAVAIL, errno.ENETUNREACH, errno.EAFNOSUPPORT):
                return False  # no IPv6 loopback here
            raise
    return True


class NetworkRegistry:
    """The local sandboxes' networks in this worker, by session id. Made on first use; released when the sandbox is
    terminated, when it has run no command for `idle_release_s` (so a worker that served thousands of sessions
    does not hold thousands of namespaces), or when the provider closes."""

    def __init__(self, proxy_port: int, limits: ProxyLimits, idle_release_s: float) -> None:
        self._proxy_port = proxy_port
        self._limits = limits
        self._idle_release_s = idle_release_s
        self._opening: dict[str, asyncio.Task[SandboxNetwork]] = {}
        self._commands: collections.Counter[str] = collections.Counter()
        self._last_used: dict[str, float] = {}
        # A registry dropped without close() (a CLI command, a test) still lets go of the networks' sockets.
        weakref.finalize(self, _close_now, self._opening)

    @contextlib.asynccontextmanager
    async def using(self, spec: SandboxSpec) -> AsyncIterator[SandboxNetwork]:
        """The sandbox's network for one command: never released while a command of the sandbox runs."""
        await self._release_idle(spec.session_id)
        self._commands[spec.session_id] += 1
        try:
            yield await self.get(spec)
        finally:
            self._commands[spec.session_id] -= 1
            self._last_used[spec.session_id] = time.monotonic()

    async def get(self, spec: SandboxSpec) -> SandboxNetwork:
        self._last_used[spec.session_id] = time.monotonic()
        task = self._opening.get(spec.session_id)
        if task is None:
            opening = SandboxNetwork.open(spec.network, spec.session_id, self._proxy_port, self._limits)
            task = self._opening[spec.session_id] = asyncio.ensure_future(opening)
        try:
            return await asyncio.shield(task)  # one caller's cancellation must not fail the others' open
        except Exception:
            if self._opening.get(spec.session_id) is task:
                del self._opening[spec.session_id]  # the next command tries again
            raise

    async def release(self, session_id: str) -> None:
        task = self._opening.pop(session_id, None)
        self._last_used.pop(session_id, None)
        if task is None:
            return
        if task.done() and not task.cancelled() and task.exception() is None:
            await task.result().close()
        else:
            task.cancel()

    async def close(self) -> None:
        for session_id in list(self._opening):
            await self.release(session_id)

    async def _release_idle(self, current: str) -> None:
        cutoff = time.monotonic() - self._idle_release_s
        for session_id in [s for s, at in self._last_used.items() if at < cutoff]:
            if session_id != current and self._commands[session_id] == 0:
                log.info("sandbox %s: its network was unused for %.0fs: released", session_id, self._idle_release_s)
                await self.release(session_id)


def _close_now(opening: dict[str, "asyncio.Task[SandboxNetwork]"]) -> None:
    for task in opening.values():
        if task.done() and not task.cancelled() and task.exception() is None:
            task.result().close_now()
    opening.clear()
