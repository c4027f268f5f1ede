"""The interface every sandbox provider implements. The control plane and the harness see only this."""

import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

OutputCallback = Callable[[str], Awaitable[None]]


class NetworkPolicy(BaseModel):
    """What a sandbox's commands may reach. Per repository, chosen by the control plane."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    mode: Literal["open", "allowlist", "blocked"] = "open"
    """open: any public address (enough for pip and npm); allowlist: only `domains` and `cidrs`; blocked: no network.
    Loopback, link-local and private addresses are refused in every mode unless `domains` or `cidrs` name them."""
    domains: list[str] = Field(default_factory=list)
    """Host names allowed (`*.example.com`: the name and everything under it). In open mode, only to allow a named
    host that resolves to a private address."""
    cidrs: list[str] = Field(default_factory=list)
    """Address ranges allowed (`10.20.0.0/16`), private ones included."""

    @field_validator("domains")
    @classmethod
    def _host_names(cls, domains: list[str]) -> list[str]:
        for domain in domains:
            name = domain.removeprefix("*.")
            if not name or "/" in name or ":" in name or "*" in name or " " in name:
                raise ValueError(f"{domain!r} is not a host name (write pypi.org or *.pypi.org, no scheme or port)")
        return domains

    @field_validator("cidrs")
    @classmethod
    def _ranges(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as e:
                raise ValueError(f"{cidr!r} is not an address range (write 10.20.0.0/16): {e}") from e
        return cidrs


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

    async def close(self) -> None:
        """Release what this process holds for its sandboxes (local: their networks); the sandboxes stay."""
        ...


class SandboxLoopback(Protocol):
    """A sandbox's own loopback, for a program on the worker's side that must reach what the sandbox serves."""

    def enter_argv(self) -> list[str]:
        """A prefix that runs a program on the sandbox's network (empty: the sandbox shares the worker's)."""
        ...

    async def accepts(self, port: int) -> bool:
        """Whether something listens on the sandbox's loopback (127.0.0.1 or ::1) at `port`."""
        ...


@runtime_checkable
class ServingSandbox(Sandbox, Protocol):
    """The optional capability the screenshot tool needs: a sandbox whose served pages the worker can reach."""

    async def loopback(self) -> SandboxLoopback: ...
