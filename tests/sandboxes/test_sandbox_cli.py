"""`nightshift sandbox prepare | list | prune` against a real Redis and a real repo."""

from pathlib import Path

from click.testing import CliRunner
from conftest import sh
from redis.asyncio import Redis

from control_plane.cli import main
from control_plane.sandbox_cli import superseded
from control_plane.sandbox_state import SnapshotRecord


def test_prepare_list_prune(tmp_path: Path, redis_url: str, redis: Redis, remote: Path) -> None:
    work = tmp_path / "work"
    sh("git", "clone", "-q", str(remote), str(work))
    (work / ".nightshift").mkdir()
    (work / ".nightshift" / "setup.sh").write_text("echo preparing; touch .ready\n")
    sh("git", "add", "-A", cwd=work)
    sh("git", "commit", "-q", "-m", "setup", cwd=work)
    sh("git", "push", "-q", "origin", "HEAD:main", cwd=work)
    env = {"NIGHTSHIFT_DATA_DIR": str(tmp_path / "data"), "REDIS_URL": redis_url}
    runner = CliRunner()
    first = runner.invoke(main, ["sandbox", "prepare", str(remote)], env=env)
    assert first.exit_code == 0, first.output
    assert "running .nightshift/setup.sh" in first.output and "snapshot " in first.output and "setup " in first.output
    again = runner.invoke(main, ["sandbox", "prepare", str(remote)], env=env)
    assert "exists already" in again.output
    listed = runner.invoke(main, ["sandbox", "list"], env=env)
    assert listed.exit_code == 0 and "yes" in listed.output
    pruned = runner.invoke(main, ["sandbox", "prune", "--sandboxes"], env=env)
    assert pruned.exit_code == 0 and "removed" not in pruned.output  # the only snapshot is the newest


def record(id: str, created_at: float, runtime: str = "local-1", setup_hash: str = "h") -> SnapshotRecord:
    return SnapshotRecord(
        id=id,
        provider="local",
        runtime=runtime,
        ref=id,
        repo="r",
        setup_hash=setup_hash,
        base_commit="c" * 40,
        created_at=created_at,
        setup_s=1.0,
    )


def test_superseded_keeps_the_newest_compatible_per_setup() -> None:
    records = [
        record("new", 3),
        record("bad", 2.5, runtime="local-0"),
        record("old", 2),
        record("other", 1, setup_hash="x"),
    ]
    refused = lambda r: "old runtime" if r.runtime != "local-1" else None  # noqa: E731
    assert [r.id for r in superseded(records, refused)] == ["bad", "old"]
