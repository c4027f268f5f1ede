"""A network namespace of the sandbox's own, held by a file descriptor in the worker: only `lo`, up.

Created in a short-lived thread of the worker (unshare(CLONE_NEWNET) moves only the calling thread), which opens
the namespace and exits; the open descriptor keeps it alive, and it dies with the worker. Commands join it between
fork and exec (`enter`), a program such as Chromium through `nsenter` (`enter_argv`), and the worker makes sockets
inside it (`socket`) to listen for the egress proxy or to see whether a port answers.
"""

import asyncio
import ctypes
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import TypeVar

from harness.errors import ConfigError, SandboxError

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_NSENTER = "/usr/bin/nsenter"

_libc = ctypes.CDLL(None, use_errno=True)
_setns = _libc.setns  # resolved here, in the parent: a forked child only calls it
_unshare = _libc.unshare

T = TypeVar("T")


class NetNamespace:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    async def create(cls) -> "NetNamespace":
        return cls(await _in_own_thread(_new_namespace))

    def enter(self) -> None:
        """In a forked child, before exec: from here on the process sees only the namespace's network."""
        if _setns(self._fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the sandbox's network namespace failed")

    def enter_argv(self) -> list[str]:
        """A prefix that runs a program inside the namespace: the descriptor as another process opens it."""
        return [_NSENTER, f"--net=/proc/{os.getpid()}/fd/{self._fd}", "--"]

    async def socket(self, family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
        """A TCP socket that belongs to the namespace (a socket keeps the namespace it was made in)."""

        def make() -> socket.socket:
            self.enter()  # this thread only; it ends right after
            return socket.socket(family, socket.SOCK_STREAM)

        return await _in_own_thread(make)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _new_namespace() -> int:
    if _unshare(CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        if errno == 1:  # EPERM
            raise ConfigError(
                "the local sandbox needs root to give each sandbox its own network namespace (CAP_SYS_ADMIN): run "
                "the worker as root, use NIGHTSHIFT_SANDBOX=modal, or isolation 'none' (no isolation at all)"
            )
        raise SandboxError(f"cannot create a network namespace: {os.strerror(errno)}")
    fd = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # in the new namespace: bring its lo up
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | _IFF_UP))
    return fd


async def _in_own_thread(work: Callable[[], T]) -> T:
    """Run `work` in a thread that ends with it: a thread moved into another namespace is never reused."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = work()
        except BaseException as e:  # handed to the awaiting task, which raises it
            loop.call_soon_threadsafe(_settle_error, done, e)
        else:
            loop.call_soon_threadsafe(_settle, done, result)

    threading.Thread(target=run, name="netns", daemon=True).start()
    return await done


def _settle(future: "asyncio.Future[T]", result: T) -> None:
    if not future.cancelled():
        future.set_result(result)


def _settle_error(future: "asyncio.Future[T]", error: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(error)
