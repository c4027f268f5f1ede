"""Mirrors.refresh under a burst: concurrent callers share fetches, and each still sees what was pushed before it
asked. The remote is reached through git's ext:: transport with a script that counts upload-pack runs."""

import asyncio
from pathlib import Path

import pytest
from conftest import sh

from control_plane.git import Mirrors


@pytest.fixture
def counted_remote(tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A URL for `remote` that appends a line to a file each time git fetches from it."""
    count = tmp_path / "fetches"
    script = tmp_path / "counting-remote.sh"
    script.write_text(f'#!/bin/sh\necho fetch >> {count}\nexec git "$1" {remote}\n')
    script.chmod(0o755)
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")  # the ext:: transport is off unless allowed
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "protocol.ext.allow")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "always")
    return f"ext::{script} %s", count


def push_commit(remote: Path, work: Path, name: str) -> str:
    sh("git", "clone", "-q", str(remote), str(work))
    (work / name).write_text("new\n")
    sh("git", "add", name, cwd=work)
    sh("git", "commit", "-q", "-m", name, cwd=work)
    sh("git", "push", "-q", "origin", "main", cwd=work)
    return sh("git", "rev-parse", "HEAD", cwd=work).strip()


async def test_a_burst_of_refreshes_shares_fetches_and_stays_fresh(
    tmp_path: Path, remote: Path, counted_remote: tuple[str, Path]
) -> None:
    url, count = counted_remote
    mirrors = Mirrors(tmp_path / "mirrors")
    mirror = await mirrors.refresh(url)  # the clone
    pushed = push_commit(remote, tmp_path / "work", "new.txt")
    await asyncio.gather(*(mirrors.refresh(url) for _ in range(20)))
    # the first caller's fetch began before the other 19 arrived; one more fetch covers all of them
    assert count.read_text().count("fetch") == 1 + 2
    assert sh("git", "rev-parse", "refs/heads/main", cwd=mirror).strip() == pushed


async def test_a_refresh_that_arrives_during_a_fetch_gets_a_later_one(
    tmp_path: Path, remote: Path, counted_remote: tuple[str, Path]
) -> None:
    url, count = counted_remote
    mirrors = Mirrors(tmp_path / "mirrors")
    await mirrors.refresh(url)
    first = asyncio.create_task(mirrors.refresh(url))
    await asyncio.sleep(0)  # the first fetch has begun
    second = asyncio.create_task(mirrors.refresh(url))
    await asyncio.gather(first, second)
    assert count.read_text().count("fetch") == 1 + 2  # not served by the fetch that began before it arrived
