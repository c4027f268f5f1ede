"""A stand-in for the few `modal` objects the modal provider uses, recording every call it gets.

Commands really run (bash in a directory per sandbox standing for its workdir), so streaming, caps and timeouts
are exercised for real; snapshots copy that directory. test_modal_api_drift.py binds each recorded call against the
installed `modal` package's signatures, so the stand-in cannot drift from the real API unnoticed.
"""

import asyncio
import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

Call = tuple[str, tuple[Any, ...], dict[str, Any]]


class _Error(Exception):
    pass


class _NotFoundError(_Error):
    pass


class _TimeoutError(_Error):
    pass


class _FsError(_Error):
    pass


class _Method:
    """A modal method as synchronicity exposes it: the plain call (sync, unused here) and `.aio`."""

    def __init__(self, name: str, calls: list[Call], fn: Callable[..., Awaitable[Any]]) -> None:
        self.name, self.calls, self.fn = name, calls, fn

    async def aio(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((self.name, args, kwargs))
        return await self.fn(*args, **kwargs)


class _Sync:
    def __init__(self, name: str, calls: list[Call], fn: Callable[..., Any]) -> None:
        self.name, self.calls, self.fn = name, calls, fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((self.name, args, kwargs))
        return self.fn(*args, **kwargs)


class FakeImage:
    def __init__(self, modal: "FakeModal", object_id: str, files: Path | None) -> None:
        self.object_id, self.files = object_id, files
        self.apt_install = _Sync("Image.apt_install", modal.calls, lambda *p, **k: self)
        self.workdir = _Sync("Image.workdir", modal.calls, lambda path: self)


class _Stream:
    def __init__(self, pipe: asyncio.StreamReader) -> None:
        self.pipe = pipe

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self.pipe.read(4096):
            yield chunk


class FakeProcess:
    def __init__(self, modal: "FakeModal", proc: asyncio.subprocess.Process, timeout: int) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.stdout, self.stderr = _Stream(proc.stdout), _Stream(proc.stderr)
        self._proc, self._timeout = proc, timeout
        self._killer = asyncio.get_running_loop().call_later(timeout, proc.kill)  # Modal's own exec timeout
        self.wait = _Method("ContainerProcess.wait", modal.calls, self._wait)

    async def _wait(self) -> int:
        code = await self._proc.wait()
        self._killer.cancel()
        return code


class FakeFilesystem:
    def __init__(self, modal: "FakeModal", sandbox: "FakeSandbox") -> None:
        self._sb = sandbox
        c = modal.calls
        self.stat = _Method("SandboxFilesystem.stat", c, self._stat)
        self.read_bytes = _Method("SandboxFilesystem.read_bytes", c, self._read)
        self.write_bytes = _Method("SandboxFilesystem.write_bytes", c, self._write)
        self.make_directory = _Method("SandboxFilesystem.make_directory", c, self._mkdir)

    async def _stat(self, remote_path: str) -> SimpleNamespace:
        host = self._sb.host(remote_path)
        if not host.exists():
            raise _FsError(f"{remote_path}: not found")
        return SimpleNamespace(size=host.stat().st_size)

    async def _read(self, remote_path: str) -> bytes:
        host = self._sb.host(remote_path)
        if not host.is_file():
            raise _FsError(f"{remote_path}: not a file")
        return host.read_bytes()

    async def _write(self, data: bytes, remote_path: str) -> None:
        self._sb.host(remote_path).write_bytes(data)

    async def _mkdir(self, remote_path: str, *, create_parents: bool = True) -> None:
        self._sb.host(remote_path).mkdir(parents=create_parents, exist_ok=True)


class FakeSandbox:
    def __init__(self, modal: "FakeModal", object_id: str, kwargs: dict[str, Any]) -> None:
        self.object_id, self.kwargs, self.modal = object_id, kwargs, modal
        self.root = Path(tempfile.mkdtemp(prefix="fake-modal-", dir=modal.root))
        image = kwargs["image"]
        if image.files is not None:
            shutil.copytree(image.files, self.root, dirs_exist_ok=True, symlinks=True)
        self.returncode: int | None = None
        c = modal.calls
        self.wait_until_ready = _Method("Sandbox.wait_until_ready", c, self._ready)
        self.exec = _Method("Sandbox.exec", c, self._exec)
        self.poll = _Method("Sandbox.poll", c, self._poll)
        self.terminate = _Method("Sandbox.terminate", c, self._terminate)
        self.snapshot_filesystem = _Method("Sandbox.snapshot_filesystem", c, self._snapshot)
        self.filesystem = FakeFilesystem(modal, self)

    def host(self, path: str) -> Path:
        workdir = self.kwargs["workdir"]
        assert path == workdir or path.startswith(workdir + "/"), f"{path} outside the stand-in's workdir"
        return self.root / path[len(workdir) :].lstrip("/")

    async def _ready(self, *, timeout: int = 300) -> None:
        if self.modal.not_ready > 0:
            self.modal.not_ready -= 1
            raise _TimeoutError(f"sandbox {self.object_id} not ready after {timeout}s")

    async def _exec(self, *args: str, timeout: int | None = None, workdir: str | None = None, **kw: Any) -> Any:
        assert self.returncode is None, "exec on a terminated sandbox"
        env = {"PATH": "/usr/bin:/bin", **(kw.get("env") or {}), **self.kwargs.get("env", {})}
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd=self.host(workdir or self.kwargs["workdir"]),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return FakeProcess(self.modal, proc, timeout or 3600)

    async def _poll(self) -> int | None:
        return self.returncode

    async def _terminate(self, *, wait: bool = False) -> None:
        self.returncode = 137

    async def _snapshot(self, timeout: int = 55, *, ttl: int | None = 2592000) -> FakeImage:
        image_id = f"im-{next(self.modal.ids)}"
        files = self.modal.root / image_id
        shutil.copytree(self.root, files, symlinks=True)
        image = FakeImage(self.modal, image_id, files)
        self.modal.images[image_id] = image
        return image


class FakeModal:
    """Use as the provider's `modal` module: FakeModal(tmp_path)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[Call] = []
        self.ids = itertools.count(1)
        self.sandboxes: dict[str, FakeSandbox] = {}
        self.images: dict[str, FakeImage] = {}
        self.not_ready = 0
        """How many of the next sandboxes fail their readiness check."""
        self.exception = SimpleNamespace(
            Error=_Error, NotFoundError=_NotFoundError, TimeoutError=_TimeoutError, SandboxFilesystemError=_FsError
        )
        self.App = SimpleNamespace(lookup=_Method("App.lookup", self.calls, self._lookup))
        self.config = SimpleNamespace(config={"token_id": "ak-standin"})
        """modal.config.config: the credentials the client would use (a dict stands in for its `get`)."""
        self.Probe = SimpleNamespace(with_exec=_Sync("Probe.with_exec", self.calls, lambda *argv, **k: ("probe", argv)))
        self.Image = SimpleNamespace(
            from_registry=_Sync(
                "Image.from_registry", self.calls, lambda tag, **k: FakeImage(self, f"reg-{tag}", None)
            ),
            from_id=_Method("Image.from_id", self.calls, self._image),
        )
        self.Sandbox = SimpleNamespace(
            create=_Method("Sandbox.create", self.calls, self._create),
            from_id=_Method("Sandbox.from_id", self.calls, self._from_id),
        )

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    async def _lookup(self, name: str, *, create_if_missing: bool = False) -> SimpleNamespace:
        return SimpleNamespace(name=name)

    async def _image(self, image_id: str) -> FakeImage:
        if image_id not in self.images:
            raise _NotFoundError(f"image {image_id}")
        return self.images[image_id]

    async def _create(self, *args: str, **kwargs: Any) -> FakeSandbox:
        sb = FakeSandbox(self, f"sb-{next(self.ids)}", kwargs)
        self.sandboxes[sb.object_id] = sb
        return sb

    async def _from_id(self, sandbox_id: str) -> FakeSandbox:
        if sandbox_id not in self.sandboxes:
            raise _NotFoundError(f"sandbox {sandbox_id}")
        return self.sandboxes[sandbox_id]


class MemoryIds:
    """The SandboxIds store, in memory: one instance shared by two providers stands for Redis across a restart."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    async def get(self, session_id: str) -> str | None:
        return self.ids.get(session_id)

    async def put(self, session_id: str, sandbox_id: str) -> None:
        self.ids[session_id] = sandbox_id

    async def forget(self, session_id: str) -> None:
        self.ids.pop(session_id, None)

    async def all(self) -> dict[str, str]:
        return dict(self.ids)
