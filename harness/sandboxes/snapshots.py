"""The optional capability behind warm starts: providers whose sandboxes can be snapshotted and restored.

Kept apart from `Sandbox` / `SandboxProvider` (STYLE rule 2): a provider can run sessions without it. Both built-in
providers implement it. What a snapshot holds (which repo, setup script and commit) is the control plane's
bookkeeping; a provider only knows its own reference for it (a directory, a Modal image id).
"""

from typing import Protocol

from harness.sandboxes.base import Sandbox, SandboxProvider, SandboxSpec


class SnapshottableSandbox(Sandbox, Protocol):
    async def snapshot(self) -> str:
        """Capture the workspace and home (never the spec's env); returns the provider's reference to it."""
        ...


class SnapshotProvider(SandboxProvider, Protocol):
    name: str
    """The provider's name (`local`, `modal`): a snapshot is only restored by the provider that made it."""
    runtime: str
    """What snapshots depend on besides the repo (base image, layout version). A snapshot made for another runtime
    is refused and rebuilt, so an old runtime never comes back with it."""

    async def create(self, spec: SandboxSpec) -> SnapshottableSandbox: ...

    async def restore(self, spec: SandboxSpec, ref: str) -> SnapshottableSandbox:
        """A new sandbox for `spec` whose workspace and home are the snapshot's."""
        ...

    async def delete_snapshot(self, ref: str) -> None: ...

    async def sandbox_ids(self) -> list[str]:
        """Session ids of the sandboxes this provider holds now."""
        ...
