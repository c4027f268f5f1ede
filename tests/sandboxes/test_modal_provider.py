"""The modal provider against the recording stand-in (tests/sandboxes/modal_standin.py): what it asks Modal for,
the spawn guard, exec streaming and caps, files, snapshots and reconnecting after a restart."""

from pathlib import Path

import pytest
from modal_standin import FakeModal, MemoryIds

from harness.errors import SandboxError
from harness.sandboxes import SandboxSpec, provider_class
from harness.sandboxes.base import NetworkPolicy
from harness.sandboxes.modal import ModalSandboxConfig, ModalSandboxProvider, network_args


def provider(tmp_path: Path, ids: MemoryIds | None = None, **config: object) -> tuple[ModalSandboxProvider, FakeModal]:
    fake = FakeModal(tmp_path)
    return ModalSandboxProvider(ModalSandboxConfig.model_validate(config), ids or MemoryIds(), fake), fake  # type: ignore[arg-type]


async def test_create_passes_limits_timeouts_env_and_tags(tmp_path: Path) -> None:
    p, fake = provider(tmp_path, lifetime_s=1200, idle_timeout_s=60, cpu=1.5, memory_mib=2048)
    sb = await p.create(SandboxSpec(session_id="s1", env={"DB_URL": "scoped"}))
    ((_, _, kwargs),) = [c for c in fake.calls if c[0] == "Sandbox.create"]
    assert kwargs["timeout"] == 1200 and kwargs["idle_timeout"] == 60
    assert kwargs["cpu"] == 1.5 and kwargs["memory"] == 2048
    assert kwargs["env"] == {"DB_URL": "scoped"} and kwargs["tags"] == {"nightshift_session": "s1"}
    assert kwargs["readiness_probe"] is not None and "block_network" not in kwargs
    # readiness is checked before the first command
    assert (await sb.exec("echo $DB_URL")).output == "scoped\n"
    names = fake.names()
    assert names.index("Sandbox.create") < names.index("Sandbox.wait_until_ready") < names.index("Sandbox.exec")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (NetworkPolicy(), {}),
        (NetworkPolicy(mode="blocked"), {"block_network": True}),
        (NetworkPolicy(mode="allowlist"), {"block_network": True}),
        (
            NetworkPolicy(mode="allowlist", domains=["pypi.org"]),
            {"outbound_domain_allowlist": ["pypi.org"], "outbound_cidr_allowlist": None},
        ),
        (
            NetworkPolicy(mode="allowlist", cidrs=["10.0.0.0/8"]),
            {"outbound_domain_allowlist": None, "outbound_cidr_allowlist": ["10.0.0.0/8"]},
        ),
    ],
)
def test_network_policy(policy: NetworkPolicy, expected: dict[str, object]) -> None:
    assert network_args(policy) == expected


async def test_network_policy_reaches_create(tmp_path: Path) -> None:
    p, fake = provider(tmp_path)
    await p.create(SandboxSpec(session_id="s1", network=NetworkPolicy(mode="blocked")))
    assert next(k for n, _, k in fake.calls if n == "Sandbox.create")["block_network"] is True


async def test_spawn_guard_retries_then_succeeds(tmp_path: Path) -> None:
    p, fake = provider(tmp_path, spawn_attempts=3)
    fake.not_ready = 2
    sb = await p.create(SandboxSpec(session_id="s1"))
    assert fake.names().count("Sandbox.create") == 3
    assert [s.returncode for s in fake.sandboxes.values()] == [137, 137, None]  # the unready ones terminated
    assert (await sb.exec("true")).exit_code == 0


async def test_spawn_guard_gives_up_with_the_reason(tmp_path: Path) -> None:
    p, fake = provider(tmp_path, spawn_attempts=2)
    fake.not_ready = 10
    with pytest.raises(SandboxError, match=r"did not become ready after 2 attempts.*not ready after 120s"):
        await p.create(SandboxSpec(session_id="s1"))
    assert fake.names().count("Sandbox.create") == 2
    assert all(s.returncode is not None for s in fake.sandboxes.values())


async def test_exec_streams_and_caps_like_the_local_provider(tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    sb = await p.create(SandboxSpec(session_id="s1"))
    seen: list[str] = []

    async def on_output(text: str) -> None:
        seen.append(text)

    result = await sb.exec(
        "head -c 5000 /dev/zero | tr '\\0' a; echo; echo err >&2; exit 3", on_output=on_output, output_limit_bytes=1000
    )
    assert result.exit_code == 3 and result.truncated and result.output_bytes == 5005
    assert result.output.startswith("a" * 500) and "bytes cut" in result.output and result.output.endswith("err\n")
    assert "".join(seen).count("a") == 5000


async def test_exec_timeout(tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    sb = await p.create(SandboxSpec(session_id="s1"))
    result = await sb.exec("echo before; sleep 5", timeout_s=1)
    assert result.timed_out and result.exit_code is None
    assert "before" in result.output and "timed out" in result.output


async def test_files_and_cwd(tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    sb = await p.create(SandboxSpec(session_id="s1"))
    await sb.write_file("pkg/a.txt", b"hello")
    assert await sb.read_file("/workspace/pkg/a.txt") == b"hello"
    assert (await sb.exec("cat a.txt", cwd="pkg")).output == "hello"
    with pytest.raises(SandboxError, match="over the 2-byte read limit"):
        await sb.read_file("pkg/a.txt", limit_bytes=2)
    with pytest.raises(SandboxError, match="cannot read missing"):
        await sb.read_file("missing")


async def test_snapshot_with_retention_and_restore(tmp_path: Path) -> None:
    p, fake = provider(tmp_path, snapshot_ttl_s=3600)
    sb = await p.create(SandboxSpec(session_id="setup"))
    await sb.write_file("deps/installed", b"yes")
    ref = await sb.snapshot()
    assert [k for n, _, k in fake.calls if n == "Sandbox.snapshot_filesystem"] == [{"timeout": 300, "ttl": 3600}]
    restored = await p.restore(SandboxSpec(session_id="s2"), ref)
    assert (await restored.exec("cat deps/installed")).output == "yes"
    assert [a for n, a, _ in fake.calls if n == "Image.from_id"] == [(ref,)]


async def test_reconnect_after_restart_and_forget_when_gone(tmp_path: Path) -> None:
    ids = MemoryIds()
    first, fake = provider(tmp_path, ids)
    sb = await first.create(SandboxSpec(session_id="s1"))
    await sb.write_file("work.txt", b"uncommitted")
    restarted = ModalSandboxProvider(ModalSandboxConfig(), ids, fake)  # type: ignore[arg-type]
    again = await restarted.attach("s1")
    assert again is not None and await again.read_file("work.txt") == b"uncommitted"
    assert await restarted.sandbox_ids() == ["s1"]
    fake.sandboxes[ids.ids["s1"]].returncode = 0  # idle timeout ended it
    assert await restarted.attach("s1") is None
    assert await restarted.sandbox_ids() == []
    assert await restarted.attach("never") is None


async def test_terminate_forgets_the_id(tmp_path: Path) -> None:
    p, fake = provider(tmp_path)
    sb = await p.create(SandboxSpec(session_id="s1"))
    await sb.terminate()
    assert await p.attach("s1") is None and "Sandbox.terminate" in fake.names()


def test_registered_by_name() -> None:
    assert provider_class("modal") is ModalSandboxProvider
