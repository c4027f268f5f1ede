"""Running one command as its own process group: output capped in memory, the whole tree killed when it ends."""

import asyncio
import codecs
import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from harness.sandboxes.base import ExecResult, OutputCallback

_CHUNK_BYTES = 64 * 1024
_DRAIN_GRACE_S = 5.0
"""How long to keep reading once the command is dead; only a process that left the group can hold the pipe longer."""


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl  # resolved here, in the parent: the child only calls it


def _dies_with(parent: int) -> None:
    """Run in the child between fork and exec: SIGKILL when the worker dies, even if it died a moment ago.

    bwrap's --die-with-parent is set by bwrap itself, after exec: a worker killed in between (kill -9 just as a tool
    call starts) would leave the command running with nobody to stop it."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)  # the worker is already gone: run nothing


ChildStep = Callable[[], None]
"""Work a command's process does between fork and exec, after _dies_with (joining the sandbox's network, ...)."""


def _prepare_child(parent: int, steps: Sequence[ChildStep]) -> None:
    _dies_with(parent)
    for step in steps:
        step()


def kill_group(pgid: int) -> None:
    # An already empty group is the normal case after a clean exit: nothing left to kill.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


class OutputCapture:
    """The first half of the limit and a rolling last half, so memory stays bounded whatever a command prints."""

    def __init__(self, limit_bytes: int) -> None:
        self._limit_bytes = limit_bytes
        self._head_limit_bytes = limit_bytes // 2
        self._tail_limit_bytes = limit_bytes - self._head_limit_bytes
        self._head = bytearray()
        self._tail = bytearray()
        self.total_bytes = 0

    def add(self, chunk: bytes) -> None:
        self.total_bytes += len(chunk)
        room = self._head_limit_bytes - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        self._tail += chunk
        excess = len(self._tail) - self._tail_limit_bytes
        if excess > 0:
            del self._tail[:excess]

    @property
    def cut_bytes(self) -> int:
        return self.total_bytes - len(self._head) - len(self._tail)

    def render(self) -> str:
        if not self.cut_bytes:
            # One decode, so a character split between head and tail is not mangled.
            return (self._head + self._tail).decode("utf-8", errors="replace")
        marker = f"\n[... {self.cut_bytes} bytes cut: output exceeded the {self._limit_bytes}-byte limit ...]\n"
        return self._head.decode("utf-8", errors="replace") + marker + self._tail.decode("utf-8", errors="replace")


class CommandRun:
    """One command: spawned in a new session (so it leads its own process group), stdout and stderr merged into
    one pipe read incrementally, and the group SIGKILLed when the command ends, times out or is cancelled."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        timeout_s: float,
        output_limit_bytes: int,
        kill_after_output_bytes: int,
        on_output: OutputCallback | None,
        child_steps: Sequence[ChildStep] = (),
    ) -> None:
        self._argv = list(argv)
        self._child_steps = tuple(child_steps)
        self._env = dict(env)
        self._cwd = cwd
        self._timeout_s = timeout_s
        self._kill_after_output_bytes = kill_after_output_bytes
        self._on_output = on_output
        self._capture = OutputCapture(output_limit_bytes)
        self._proc: asyncio.subprocess.Process | None = None
        self._kill_reason: str | None = None
        self._timed_out = False
        self._killed_for_output = False
        self._pipe_held_open = False

    def kill(self, reason: str) -> None:
        """Kill the command from outside (the sandbox is being terminated, or went over its disk quota); works before
        it has even started. The reason ends the command's output: "[killed: <reason>]"."""
        self._kill_reason = self._kill_reason or reason
        if self._proc is not None:
            kill_group(self._proc.pid)

    async def wait_stopped(self) -> None:
        if self._proc is not None:
            await self._proc.wait()

    async def execute(self) -> ExecResult:
        started = time.monotonic()
        stream, pipe, proc = await self._start()
        self._proc = proc
        if self._kill_reason is not None:
            kill_group(proc.pid)
        reader = asyncio.create_task(self._pump(stream, proc.pid))
        try:
            try:
                exit_code = await self._wait_for_exit(proc)
            finally:
                # On success, timeout and cancellation alike: nothing the command started may outlive this call.
                await self._stop(proc, reader)
        finally:
            pipe.close()
        error = None if reader.cancelled() else reader.exception()
        if error is not None:
            raise error  # on_output failed: the caller must hear of it
        return self._result(exit_code, started)

    async def _start(self) -> tuple[asyncio.StreamReader, asyncio.ReadTransport, asyncio.subprocess.Process]:
        # Our own pipe rather than asyncio's PIPE: we own the read end and can close it even when a process that
        # escaped the group still holds the write end.
        read_fd, write_fd = os.pipe()
        try:
            stream = asyncio.StreamReader(limit=_CHUNK_BYTES)
            loop = asyncio.get_running_loop()
            pipe, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(stream), os.fdopen(read_fd, "rb", buffering=0)
            )
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self._argv,
                    stdin=subprocess.DEVNULL,
                    stdout=write_fd,
                    stderr=write_fd,
                    env=self._env,
                    cwd=self._cwd,
                    start_new_session=True,
                    preexec_fn=functools.partial(_prepare_child, os.getpid(), self._child_steps),
                )
            except BaseException:
                pipe.close()
                raise
        finally:
            os.close(write_fd)
        return stream, pipe, proc

    async def _wait_for_exit(self, proc: asyncio.subprocess.Process) -> int | None:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await proc.wait()
        except TimeoutError:
            self._timed_out = True
            return None

    async def _stop(self, proc: asyncio.subprocess.Process, reader: asyncio.Task[None]) -> None:
        kill_group(proc.pid)
        await proc.wait()
        done, _ = await asyncio.wait({reader}, timeout=_DRAIN_GRACE_S)
        if not done:
            self._pipe_held_open = True
            reader.cancel()
            await asyncio.wait({reader})

    async def _pump(self, stream: asyncio.StreamReader, pgid: int) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while chunk := await stream.read(_CHUNK_BYTES):
                self._capture.add(chunk)
                if self._capture.total_bytes > self._kill_after_output_bytes and not self._killed_for_output:
                    self._killed_for_output = True
                    kill_group(pgid)
                await self._stream_out(decoder.decode(chunk))
            await self._stream_out(decoder.decode(b"", final=True))
        except BaseException:
            kill_group(pgid)  # a failed callback must not leave the command blocked on a full pipe
            raise

    async def _stream_out(self, text: str) -> None:
        if text and self._on_output is not None:
            await self._on_output(text)

    def _result(self, exit_code: int | None, started: float) -> ExecResult:
        output = self._capture.render()
        if self._timed_out:
            output += f"\n[killed after {self._timeout_s:g} s: the command timed out]\n"
        elif self._killed_for_output:
            output += f"\n[killed: the command printed more than {self._kill_after_output_bytes} bytes]\n"
        elif self._kill_reason is not None:
            output += f"\n[killed: {self._kill_reason}]\n"
        if self._pipe_held_open:
            output += "\n[stopped reading: a process that left the command's process group kept the output open]\n"
        killed = self._timed_out or self._killed_for_output or self._kill_reason is not None
        return ExecResult(
            exit_code=None if killed else _shell_exit_code(exit_code),
            output=output,
            truncated=self._capture.cut_bytes > 0,
            timed_out=self._timed_out,
            output_bytes=self._capture.total_bytes,
            duration_ms=round((time.monotonic() - started) * 1000),
        )


def _shell_exit_code(returncode: int | None) -> int | None:
    # Death by signal N is reported the way shells do (128 + N) rather than asyncio's negative numbers.
    if returncode is not None and returncode < 0:
        return 128 - returncode
    return returncode
