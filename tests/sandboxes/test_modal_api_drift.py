"""Every call the modal provider makes, checked against the installed `modal` package: the provider runs all its
paths against the recording stand-in, then each recorded call is bound to the real function's signature.
A renamed method, a removed parameter or a keyword that became positional fails here, not in production."""

import inspect
from pathlib import Path
from typing import Any

import pytest
from modal_standin import FakeModal, MemoryIds

from harness.sandboxes import SandboxSpec
from harness.sandboxes.base import NetworkPolicy
from harness.sandboxes.modal import ModalSandboxConfig, ModalSandboxProvider

modal = pytest.importorskip("modal")  # in the dev extra: CI always has it, so this never skips there
from modal.container_process import ContainerProcess  # noqa: E402
from modal.sandbox.sandbox import SandboxFilesystem  # noqa: E402

REAL: dict[str, Any] = {
    "App.lookup": modal.App.lookup,
    "Probe.with_exec": modal.Probe.with_exec,
    "Image.from_registry": modal.Image.from_registry,
    "Image.apt_install": modal.Image.apt_install,
    "Image.workdir": modal.Image.workdir,
    "Image.from_id": modal.Image.from_id,
    "Sandbox.create": modal.Sandbox.create,
    "Sandbox.from_id": modal.Sandbox.from_id,
    "Sandbox.wait_until_ready": modal.Sandbox.wait_until_ready,
    "Sandbox.exec": modal.Sandbox.exec,
    "Sandbox.poll": modal.Sandbox.poll,
    "Sandbox.terminate": modal.Sandbox.terminate,
    "Sandbox.snapshot_filesystem": modal.Sandbox.snapshot_filesystem,
    "ContainerProcess.wait": ContainerProcess.wait,
    "SandboxFilesystem.stat": SandboxFilesystem.stat,
    "SandboxFilesystem.read_bytes": SandboxFilesystem.read_bytes,
    "SandboxFilesystem.write_bytes": SandboxFilesystem.write_bytes,
    "SandboxFilesystem.make_directory": SandboxFilesystem.make_directory,
}
NOT_AIO = {"Probe.with_exec", "Image.from_registry", "Image.apt_install", "Image.workdir"}
"""Builders the provider calls synchronously (they only describe an image or probe); everything else via .aio."""


async def exercise_everything(tmp_path: Path) -> FakeModal:
    fake = FakeModal(tmp_path)
    ids = MemoryIds()
    p = ModalSandboxProvider(ModalSandboxConfig(spawn_attempts=2), ids, fake)  # type: ignore[arg-type]
    fake.not_ready = 1
    sb = await p.create(SandboxSpec(session_id="s1", env={"A": "1"}, network=NetworkPolicy(mode="blocked")))
    await p.create(SandboxSpec(session_id="s2", network=NetworkPolicy(mode="allowlist", domains=["x.org"])))
    await sb.exec("echo hi", cwd=".", env={"B": "2"}, timeout_s=5)
    await sb.write_file("d/f.txt", b"x")
    await sb.read_file("d/f.txt")
    ref = await sb.snapshot()
    await p.restore(SandboxSpec(session_id="s3"), ref)
    assert await p.attach("s1") is not None
    await sb.terminate()
    return fake


async def test_every_call_binds_to_the_installed_modal(tmp_path: Path) -> None:
    fake = await exercise_everything(tmp_path)
    assert set(fake.names()) == set(REAL), "update REAL when the provider starts using another modal call"
    for name, args, kwargs in fake.calls:
        real = REAL[name]
        params = list(inspect.signature(real).parameters)
        bound_self = (None,) if params and params[0] in ("self", "cls") else ()
        try:
            inspect.signature(real).bind(*bound_self, *args, **kwargs)
        except TypeError as e:
            pytest.fail(f"modal {name}{args!r} {kwargs!r} does not fit the installed signature: {e}")
        if name not in NOT_AIO:
            assert callable(real.aio), f"modal {name} has no .aio variant"


def test_attributes_and_exceptions_the_provider_relies_on() -> None:
    for attr in ("object_id", "filesystem", "returncode"):
        assert hasattr(modal.Sandbox, attr), attr
    assert hasattr(modal.Image, "object_id")
    assert isinstance(ContainerProcess.stdout, property) and isinstance(ContainerProcess.stderr, property)
    assert issubclass(modal.exception.NotFoundError, modal.exception.Error)
    assert issubclass(modal.exception.SandboxFilesystemError, modal.exception.Error)
    assert issubclass(modal.exception.TimeoutError, modal.exception.Error)
