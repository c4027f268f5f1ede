"""The `modal` provider: one `modal.Sandbox` per session, created from a base image or a filesystem snapshot.

The `modal` package is imported lazily (the `modal` extra) and can be replaced by a stand-in with the same few
objects: tests do that, and tests/sandboxes/test_modal_api_drift.py checks every call made here against the
installed package's signatures. Modal credentials stay in the control plane's environment; nothing of the
platform's goes into a sandbox's env, image or command line — only the spec's scoped env.

Reconnecting: the sandbox id is kept in a `SandboxIds` store the control plane provides (Redis), so `attach`
finds a session's sandbox after a control-plane restart.
"""

import posixpath
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import ConfigError, SandboxError
from harness.sandboxes._modal_exec import run_exec
from harness.sandboxes.base import ExecResult, NetworkPolicy, OutputCallback, SandboxSpec

SESSION_TAG = "nightshift_session"


class ModalSandboxConfig(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    app_name: str = "nightshift-sandboxes"
    """Modal app the sandboxes belong to (created on first use)."""
    image: str = "python:3.12-slim-bookworm"
    """Registry image every sandbox starts from when there is no snapshot."""
    apt_packages: list[str] = Field(default_factory=lambda: ["git", "ripgrep", "ca-certificates"])
    """Installed on top of `image`; git is required (code moves in and out as git bundles)."""
    workdir: str = "/workspace"
    """Where the repository is checked out inside the sandbox."""
    lifetime_s: int = Field(default=4 * 3600, gt=0)
    """Hard cap on one sandbox's life. Always passed: Modal's default is 5 minutes."""
    idle_timeout_s: int = Field(default=900, gt=0)
    """A sandbox with no command running for this long is stopped (it is restored on the next message)."""
    cpu: float = 2.0
    """CPU cores reserved per sandbox."""
    memory_mib: int = 4096
    """Memory reserved per sandbox."""
    readiness_timeout_s: int = Field(default=120, gt=0)
    """How long one sandbox may take to become ready. Setup hooks run after readiness and do not count."""
    spawn_attempts: int = Field(default=3, ge=1, le=5)
    """Sandboxes tried before the session fails; bounded so a broken image never spawns sandboxes in a loop."""
    snapshot_ttl_s: int | None = 14 * 86400
    """How long Modal keeps a filesystem snapshot. None keeps it until pruned (storage is billed)."""
    snapshot_timeout_s: int = Field(default=300, gt=0)
    """Longest taking a filesystem snapshot may take."""


class SandboxIds(Protocol):
    """Where the provider keeps session id -> Modal sandbox id (implemented by the control plane, in Redis)."""

    async def get(self, session_id: str) -> str | None: ...

    async def put(self, session_id: str, sandbox_id: str) -> None: ...

    async def forget(self, session_id: str) -> None: ...

    async def all(self) -> dict[str, str]: ...


def import_modal() -> ModuleType:
    try:
        import modal
    except ImportError as e:
        raise ConfigError("NIGHTSHIFT_SANDBOX=modal needs the modal package: pip install 'nightshift[modal]'") from e
    return modal


async def check_access(config: ModalSandboxConfig, modal: ModuleType | None = None) -> None:
    """For `nightshift doctor`: a token is configured here and Modal accepts it (one lookup of the sandboxes' app)."""
    modal = modal or import_modal()
    if not modal.config.config.get("token_id"):  # MODAL_TOKEN_ID, else the active profile of ~/.modal.toml
        raise ConfigError("no Modal token: run `modal token new`, or export MODAL_TOKEN_ID and MODAL_TOKEN_SECRET")
    try:
        await modal.App.lookup.aio(config.app_name, create_if_missing=True)
    except modal.exception.Error as e:
        raise SandboxError(f"Modal refused the lookup of app {config.app_name!r}: {e}") from e


def network_args(policy: NetworkPolicy) -> dict[str, Any]:
    """Sandbox.create keyword arguments for a repo's network policy."""
    if policy.mode == "open":
        return {}
    if policy.mode == "blocked" or not (policy.domains or policy.cidrs):
        return {"block_network": True}
    return {
        "outbound_domain_allowlist": list(policy.domains) or None,
        "outbound_cidr_allowlist": list(policy.cidrs) or None,
    }


class ModalSandboxProvider:
    name = "modal"

    def __init__(self, config: ModalSandboxConfig, ids: SandboxIds, modal: ModuleType | None = None) -> None:
        self._config = config
        self._ids = ids
        self._modal = modal or import_modal()
        self.runtime = f"modal-1:{config.image}+{','.join(sorted(config.apt_packages))}"

    async def create(self, spec: SandboxSpec) -> "ModalSandbox":
        image = self._modal.Image.from_registry(self._config.image).apt_install(*self._config.apt_packages)
        return await self._spawn(spec, image.workdir(self._config.workdir))

    async def restore(self, spec: SandboxSpec, ref: str) -> "ModalSandbox":
        image = await self._modal.Image.from_id.aio(ref)
        return await self._spawn(spec, image)

    async def attach(self, session_id: str) -> "ModalSandbox | None":
        sandbox_id = await self._ids.get(session_id)
        if sandbox_id is None:
            return None
        try:
            sb = await self._modal.Sandbox.from_id.aio(sandbox_id)
        except self._modal.exception.NotFoundError:
            await self._ids.forget(session_id)
            return None
        if await sb.poll.aio() is not None:  # exited: idle timeout, lifetime, crash
            await self._ids.forget(session_id)
            return None
        return ModalSandbox(sb, session_id, self._config, self._ids, self._modal)

    async def close(self) -> None:
        return None  # nothing is held here: the sandboxes live on Modal

    async def delete_snapshot(self, ref: str) -> None:
        # Modal has no call to delete a snapshot image: forgetting it is all we can do; its ttl expires it.
        return None

    async def sandbox_ids(self) -> list[str]:
        return sorted(await self._ids.all())

    async def _spawn(self, spec: SandboxSpec, image: Any) -> "ModalSandbox":
        """The spawn guard: a bounded number of sandboxes, each terminated if it does not become ready."""
        c = self._config
        app = await self._modal.App.lookup.aio(c.app_name, create_if_missing=True)
        failures: list[str] = []
        for attempt in range(1, c.spawn_attempts + 1):
            sb = await self._modal.Sandbox.create.aio(
                app=app,
                image=image,
                env=dict(spec.env),
                timeout=c.lifetime_s,
                idle_timeout=c.idle_timeout_s,
                workdir=c.workdir,
                cpu=c.cpu,
                memory=c.memory_mib,
                readiness_probe=self._modal.Probe.with_exec("git", "--version"),
                tags={SESSION_TAG: spec.session_id},
                **network_args(spec.network),
            )
            try:
                await sb.wait_until_ready.aio(timeout=c.readiness_timeout_s)
            except (self._modal.exception.Error, TimeoutError) as e:
                failures.append(f"attempt {attempt}: {type(e).__name__}: {e}")
                await sb.terminate.aio()
                continue
            await self._ids.put(spec.session_id, sb.object_id)
            return ModalSandbox(sb, spec.session_id, c, self._ids, self._modal)
        raise SandboxError(
            f"the Modal sandbox did not become ready after {c.spawn_attempts} attempts: {'; '.join(failures)}"
        )


class ModalSandbox:
    def __init__(
        self, sb: Any, session_id: str, config: ModalSandboxConfig, ids: SandboxIds, modal: ModuleType
    ) -> None:
        self.id = session_id
        self.workdir = config.workdir
        self._sb = sb
        self._config = config
        self._ids = ids
        self._fs_error: type[Exception] = modal.exception.SandboxFilesystemError

    async def exec(
        self,
        command: str,
        *,
        cwd: str | None = None,
        timeout_s: float = 120,
        output_limit_bytes: int = 64_000,
        env: Mapping[str, str] | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecResult:
        return await run_exec(
            self._sb,
            command,
            workdir=self._path(cwd or "."),
            timeout_s=timeout_s,
            output_limit_bytes=output_limit_bytes,
            env=dict(env) if env else None,
            on_output=on_output,
        )

    async def read_file(self, path: str, *, limit_bytes: int = 10_000_000) -> bytes:
        absolute = self._path(path)
        fs = self._sb.filesystem
        try:
            info = await fs.stat.aio(absolute)
            if info.size > limit_bytes:
                raise SandboxError(f"{path} is {info.size} bytes, over the {limit_bytes}-byte read limit")
            data: bytes = await fs.read_bytes.aio(absolute)
        except self._fs_error as e:
            raise SandboxError(f"cannot read {path}: {e}") from e
        return data

    async def write_file(self, path: str, data: bytes) -> None:
        absolute = self._path(path)
        fs = self._sb.filesystem
        try:
            await fs.make_directory.aio(posixpath.dirname(absolute), create_parents=True)
            await fs.write_bytes.aio(data, absolute)
        except self._fs_error as e:
            raise SandboxError(f"cannot write {path}: {e}") from e

    async def snapshot(self) -> str:
        c = self._config
        image = await self._sb.snapshot_filesystem.aio(timeout=c.snapshot_timeout_s, ttl=c.snapshot_ttl_s)
        ref: str = image.object_id
        return ref

    async def terminate(self) -> None:
        await self._sb.terminate.aio()
        await self._ids.forget(self.id)

    def _path(self, path: str) -> str:
        # Modal's sandbox is the whole machine, so any absolute path is the sandbox's own; relative ones start
        # at the workdir, as in the local provider.
        return posixpath.normpath(posixpath.join(self.workdir, path))
