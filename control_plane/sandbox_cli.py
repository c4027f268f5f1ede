"""`nightshift sandbox prepare | list | prune`: setup snapshots and sandboxes, by hand."""

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from control_plane.cli_support import config_option, console, err, run_command
from control_plane.config import Settings
from control_plane.git import Mirrors, normalize_repo
from control_plane.runtime import Runtime
from control_plane.sandbox_runtime import sandbox_provider, sandbox_starts
from control_plane.sandbox_state import SnapshotRecord
from control_plane.warm_start import SandboxStarts
from harness.events import TERMINAL_STATUSES, ErrorEvent, Event, Note


def _starts(rt: Runtime) -> SandboxStarts:
    mirrors = Mirrors(rt.settings.data_dir / "mirrors", credentials=rt.git_credentials())
    return sandbox_starts(rt.settings, rt.redis, sandbox_provider(rt.settings, rt.redis), mirrors)


async def _print(event: Event) -> None:
    if isinstance(event, ErrorEvent):
        err.print(f"[red]{escape(event.message)}[/red]")
    elif isinstance(event, Note):
        console.print(escape(event.text))


@click.group()
def sandbox() -> None:
    """Setup snapshots (warm starts) and the sandboxes sessions run in."""


@sandbox.command()
@click.argument("repo")
@click.option("--base", default=None, help="Branch, tag or commit to run setup at (default: the default branch).")
@config_option
def prepare(repo: str, base: str | None, config: Path | None) -> None:
    """Run REPO's .nightshift/setup.sh and snapshot the result, unless that snapshot exists."""
    run_command(_prepare(Settings.load(os.environ, config), normalize_repo(repo), base))


async def _prepare(settings: Settings, repo: str, base: str | None) -> None:
    started = time.monotonic()
    async with Runtime.open(settings) as rt:
        record = await _starts(rt).prepare(repo, base, _print)
    took = time.monotonic() - started
    if record is None:
        err.print(f"setup failed after {took:.1f}s: no snapshot")
        sys.exit(1)
    console.print(f"snapshot {record.id} at {record.base_commit[:12]}: setup {record.setup_s:.1f}s, total {took:.1f}s")


@sandbox.command(name="list")
@config_option
def list_(config: Path | None) -> None:
    """Snapshots (newest first) and the sandboxes the provider holds."""
    run_command(_list(Settings.load(os.environ, config)))


async def _list(settings: Settings) -> None:
    async with Runtime.open(settings) as rt:
        starts = _starts(rt)
        table = Table("snapshot", "repo", "base", "setup", "age", "provider", "usable", box=None)
        for r in await starts.index.all():
            usable = starts.refused(r) or "yes"
            age_h = (time.time() - r.created_at) / 3600
            row = (r.id, r.repo[-40:], r.base_commit[:12], f"{r.setup_s:.1f}s", f"{age_h:.1f}h", r.provider, usable)
            table.add_row(*map(escape, row))
        console.print(table)
        sandboxes = Table("sandbox (session)", "session status", box=None)
        for session_id in await starts.provider.sandbox_ids():
            sandboxes.add_row(session_id, await _status(rt, session_id))
        console.print(sandboxes)


async def _status(rt: Runtime, session_id: str) -> str:
    if not await rt.store.exists(session_id):
        return "(no session: a setup build or a deleted session)"
    return (await rt.store.get(session_id)).status


@sandbox.command()
@click.option("--sandboxes", is_flag=True, help="Also terminate sandboxes of ended sessions and leftover setup builds.")
@config_option
def prune(sandboxes: bool, config: Path | None) -> None:
    """Remove snapshots that are superseded (an older one of the same repo and setup) or incompatible."""
    run_command(_prune(Settings.load(os.environ, config), sandboxes))


async def _prune(settings: Settings, sandboxes: bool) -> None:
    async with Runtime.open(settings) as rt:
        starts = _starts(rt)
        for record in superseded(await starts.index.all(), starts.refused):
            await starts.forget(record)
            console.print(f"removed snapshot {record.id} ({escape(record.repo)} at {record.base_commit[:12]})")
        if not sandboxes:
            return
        for session_id in await starts.provider.sandbox_ids():
            status = await _status(rt, session_id)
            if status not in TERMINAL_STATUSES and not status.startswith("(no session"):
                continue  # a live session's sandbox (a finished one's is kept only for follow-ups)
            found = await starts.provider.attach(session_id)
            if found is not None:
                await found.terminate()
                console.print(f"terminated sandbox {session_id} ({status})")


def superseded(records: list[SnapshotRecord], refused: Callable[[SnapshotRecord], str | None]) -> list[SnapshotRecord]:
    """Records to prune: every incompatible one, and all but the newest per (repo, setup script)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for record in records:  # newest first
        key = (record.repo, record.setup_hash)
        if refused(record) is not None or key in seen:
            out.append(record)
        else:
            seen.add(key)
    return out
