"""Building the sandbox provider and warm starts from Settings (used by the composition root only)."""

from pathlib import Path

from redis.asyncio import Redis

from control_plane.config import Settings
from control_plane.git import Mirrors
from control_plane.sandbox_state import RedisSandboxIds, SnapshotIndex
from control_plane.warm_start import SandboxStarts
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider
from harness.sandboxes.snapshots import SnapshotProvider


def sandbox_provider(settings: Settings, redis: Redis) -> SnapshotProvider:
    if settings.sandbox == "modal":
        # Imported here: the modal provider (and the modal package) load only in deployments that use it.
        from harness.sandboxes.modal import ModalSandboxProvider

        return ModalSandboxProvider(settings.modal, RedisSandboxIds(redis))
    private = [settings.data_dir, Path.home(), *([settings.config_file] if settings.config_file else [])]
    config = LocalSandboxConfig(
        root_dir=settings.data_dir / "sandboxes",
        read_only_paths=settings.sandbox_read_only_paths,
        private_paths=private,
        pids_cgroup=settings.sandbox_pids_cgroup,
        disk_quota_bytes=settings.sandbox_disk_quota_bytes,
        uid_first=settings.sandbox_uid_first,
        uid_count=settings.sandbox_uid_count,
    )
    return LocalSandboxProvider(config)


def sandbox_starts(settings: Settings, redis: Redis, provider: SnapshotProvider, mirrors: Mirrors) -> SandboxStarts:
    return SandboxStarts(
        provider=provider,
        mirrors=mirrors,
        index=SnapshotIndex(redis),
        repos=settings.repo_sandboxes,
        setup_timeout_s=settings.setup_timeout_s,
        start_timeout_s=settings.start_timeout_s,
    )
