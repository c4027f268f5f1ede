"""Setup hooks, snapshots and warm starts on the local provider, for real: Redis, git, subprocess sandboxes."""

from pathlib import Path

import pytest
from conftest import sh
from redis.asyncio import Redis
from spine import marker, start, wait_status, worker_running

from control_plane.git import Mirrors
from control_plane.runtime import Runtime
from control_plane.sandbox_config import RepoSandboxConfig
from control_plane.sandbox_state import SnapshotIndex, SnapshotRecord
from control_plane.warm_start import SandboxStarts
from harness.events import ErrorEvent, Event, Note, ToolResult
from harness.sandboxes import SandboxSpec
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use

SCOPED = "scoped-db-secret-4f1c9a"
SETUP_OK = """mkdir -p .deps && echo installed > .deps/ok && echo "setup saw [$SCOPED]" > .deps/seen
echo ran >> .deps/runs
"""


def commit_file(remote: Path, work: Path, files: dict[str, str], message: str) -> str:
    if not work.exists():
        sh("git", "clone", "-q", str(remote), str(work))
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    sh("git", "add", "-A", cwd=work)
    sh("git", "commit", "-q", "-m", message, cwd=work)
    sh("git", "push", "-q", "origin", "HEAD:main", cwd=work)
    return sh("git", "rev-parse", "HEAD", cwd=work).strip()


def local_provider(tmp_path: Path) -> LocalSandboxProvider:
    return LocalSandboxProvider(LocalSandboxConfig(root_dir=tmp_path / "sandboxes", isolation="none"))


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


async def test_local_snapshot_restores_a_copy_without_the_specs_env(tmp_path: Path) -> None:
    provider = local_provider(tmp_path)
    sb = await provider.create(SandboxSpec(session_id="a", env={"TOKEN": SCOPED}))
    await sb.write_file("deps/x", b"1")
    await sb.exec('mkdir -p "$HOME/.cache" && echo cached > "$HOME/.cache/c"')
    ref = await sb.snapshot()
    restored = await provider.restore(SandboxSpec(session_id="b"), ref)
    assert await restored.read_file("deps/x") == b"1"
    assert (await restored.exec('cat "$HOME/.cache/c"; echo "[$TOKEN]"')).output == "cached\n[]\n"
    await restored.write_file("deps/x", b"2")  # a copy: editing the restored workspace leaves the snapshot alone
    again = await provider.restore(SandboxSpec(session_id="c"), ref)
    assert await again.read_file("deps/x") == b"1"
    assert files_containing(tmp_path / "sandboxes" / ".snapshots", SCOPED) == []
    assert sorted(await provider.sandbox_ids()) == ["a", "b", "c"]
    await provider.delete_snapshot(ref)
    assert not (tmp_path / "sandboxes" / ".snapshots" / ref).exists()


async def test_setup_runs_once_then_sessions_start_from_the_snapshot(
    rt: Runtime, standin: AnthropicStandIn, remote: Path, tmp_path: Path
) -> None:
    rt.settings.repo_sandboxes = {"*": RepoSandboxConfig.model_validate({"env": {"SCOPED": SCOPED}})}
    files = {".nightshift/setup.sh": SETUP_OK, ".nightshift/start.sh": "date +%s%N >> .deps/started\n"}
    commit_file(remote, tmp_path / "work", {**files, ".gitignore": ".deps/\n"}, "setup hooks")
    probe = 'cat .deps/ok .deps/seen; wc -l < .deps/runs; wc -l < .deps/started; echo "[$SCOPED]"; ls'
    first_tag, second_tag = marker(), marker()
    for tag in (first_tag, second_tag):
        standin.register(
            Script([Reply(tool_use("shell", {"command": probe})), Reply(tool_use("finish", {"summary": "x"}))], key=tag)
        )
    async with worker_running(rt):
        first = await start(rt, remote, f"{first_tag} look")
        assert (await wait_status(rt, first.id, {"finished", "failed"})).status == "finished"
        commit_file(remote, tmp_path / "work", {"new.txt": "after the snapshot\n"}, "a later commit")
        second = await start(rt, remote, f"{second_tag} look")
        assert (await wait_status(rt, second.id, {"finished", "failed"})).status == "finished"

    one = [e.event for e in await rt.store.events(first.id)]
    two = [e.event for e in await rt.store.events(second.id)]
    assert any(isinstance(e, Note) and "running .nightshift/setup.sh" in e.text for e in one)
    assert not any(isinstance(e, Note) and "running .nightshift/setup.sh" in e.text for e in two)
    assert any(isinstance(e, Note) and e.text.startswith("started from snapshot") for e in two)
    for events in (one, two):
        output = _tool_output(events)
        # setup ran once, without the scoped secret; start.sh ran at this session's start; the session has the env
        assert f"installed\nsetup saw []\n1\n1\n[{SCOPED}]\n" in output, output
    assert "new.txt" in _tool_output(two)  # fast-forwarded past the snapshot's commit
    records = await SnapshotIndex(rt.redis).all()
    assert len(records) == 1 and records[0].provider == "local"
    assert files_containing(rt.settings.data_dir / "sandboxes" / ".snapshots", SCOPED) == []


def _tool_output(events: list[Event]) -> str:
    return next(e.output for e in events if isinstance(e, ToolResult))


async def starts_for(tmp_path: Path, redis: Redis, **limits: float) -> SandboxStarts:
    return SandboxStarts(
        provider=local_provider(tmp_path),
        mirrors=Mirrors(tmp_path / "mirrors"),
        index=SnapshotIndex(redis),
        repos={},
        setup_timeout_s=limits.get("setup_timeout_s", 60),
        start_timeout_s=limits.get("start_timeout_s", 60),
    )


@pytest.mark.parametrize(
    ("script", "reason"),
    [("echo compiling; echo broken >&2; exit 3", "exited with status 3"), ("echo slow; sleep 5", "timed out after 1s")],
)
async def test_a_failing_setup_is_shown_with_its_reason_and_the_session_starts_cold(
    tmp_path: Path, redis: Redis, remote: Path, script: str, reason: str
) -> None:
    commit = commit_file(remote, tmp_path / "work", {".nightshift/setup.sh": script}, "setup")
    starts = await starts_for(tmp_path, redis, setup_timeout_s=1)
    log: list[Event] = []
    mirror = await starts.mirrors.refresh(str(remote))
    sandbox = (await starts.open("s1", str(remote), "b1", mirror, commit, None, _append(log))).sandbox
    (error,) = [e for e in log if isinstance(e, ErrorEvent)]
    assert f".nightshift/setup.sh failed: {reason}" in error.message
    assert ("broken" if "exit" in script else "slow") in error.message
    assert (await sandbox.exec("git rev-parse HEAD")).output.strip() == commit
    assert await starts.index.all() == []


async def test_a_failing_start_hook_is_reported(tmp_path: Path, redis: Redis, remote: Path) -> None:
    commit = commit_file(remote, tmp_path / "work", {".nightshift/start.sh": "echo no db; exit 2"}, "start")
    starts = await starts_for(tmp_path, redis)
    log: list[Event] = []
    mirror = await starts.mirrors.refresh(str(remote))
    sandbox = (await starts.open("s1", str(remote), "b1", mirror, commit, None, _append(log))).sandbox
    await starts.start_hook(sandbox, _append(log))
    (error,) = [e for e in log if isinstance(e, ErrorEvent)]
    assert error.message == ".nightshift/start.sh failed: exited with status 2\nno db"


async def test_an_incompatible_snapshot_is_refused_and_rebuilt(tmp_path: Path, redis: Redis, remote: Path) -> None:
    commit = commit_file(remote, tmp_path / "work", {".nightshift/setup.sh": "echo v2 > .ready"}, "setup")
    starts = await starts_for(tmp_path, redis)
    mirror = await starts.mirrors.refresh(str(remote))
    log: list[Event] = []
    first = await starts.prepare(str(remote), None, _append(log))
    assert first is not None
    old = first.model_copy(
        update={"id": "old", "ref": "gone", "runtime": "local-0", "created_at": first.created_at + 1}
    )
    await starts.index.add(old)  # newest, but made for another runtime
    sandbox = (await starts.open("s1", str(remote), "b1", mirror, commit, None, _append(log))).sandbox
    assert any(isinstance(e, Note) and "snapshot old refused: made for runtime 'local-0'" in e.text for e in log)
    assert [r.id for r in await starts.index.all()] == [first.id]
    assert (await sandbox.exec("cat .ready")).output == "v2\n"
    again = await starts.prepare(str(remote), None, _append(log))
    assert isinstance(again, SnapshotRecord) and again.id == first.id  # once per (repo, script, base commit)


def _append(log: list[Event]):  # type: ignore[no-untyped-def]
    async def append(event: Event) -> None:
        log.append(event)

    return append
