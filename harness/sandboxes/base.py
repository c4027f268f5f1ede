"""The interface every sandbox provider implements. The control plane and the harness see only this."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

OutputCallback = Callable[[str], Awaitable[None]]


class NetworkPolicy(BaseModel):
    """What a sandbox's commands may reach. Per repository, chosen by the control plane."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    mode: Literal["open", "allowlist", "blocked"] = "open"
    """open: anywhere; allowlist: only `domains` and `cidrs`; blocked: no network."""
    domains: list[str] = Field(default_factory=list)
    """allowlist: outbound domains allowed. A provider that cannot filter by domain blocks everything instead."""
    cidrs: list[str] = Field(default_factory=list)
    """allowlist: outbound CIDR ranges allowed."""


class SandboxSpec(BaseModel):
    session_id: str
    """One sandbox per session; providers key their state by it."""
    env: dict[str, str] = Field(default_factory=dict)
    """Scoped, user-configured variables for this sandbox only. Never the platform's own secrets."""
    network: NetworkPolicy = Field(default_factory=NetworkPolicy)


class ExecResult(BaseModel):
    exit_code: int | None
    """None when the command was killed (timeout, output limit, cancellation)."""
    output: str
    """stdout and stderr interleaved, capped: head and tail kept, the middle replaced by a marker."""
    truncated: bool = False
    timed_out: bool = False
    output_bytes: int = 0
    """Total bytes the command printed, including what was cut."""
    duration_ms: int = 0


class Sandbox(Protocol):
    id: str
    workdir: str
    """Absolute path, as commands inside the sandbox see it, of the directory the repo lives in."""

    async def exec(
        self,
        command: str,
        *,
        cwd: str | None = None,
        timeout_s: float = 120,
        output_limit_bytes: int = 64_000,
        env: Mapping[str, str] | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecResult: ...

    async def read_file(self, path: str, *, limit_bytes: int = 10_000_000) -> bytes: ...

    async def write_file(self, path: str, data: bytes) -> None: ...

    async def terminate(self) -> None: ...


class SandboxProvider(Protocol):
    async def create(self, spec: SandboxSpec) -> Sandbox: ...

    async def attach(self, session_id: str) -> Sandbox | None:
        """The session's existing sandbox (after a worker restart), or None when it is gone."""
        ...
