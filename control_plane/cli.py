"""`nightshift`: run a session in the foreground, serve the API with workers, inspect sessions."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import TypeVar

import click
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from control_plane.config import Settings
from control_plane.demo import demo_request, demo_settings, make_repo
from control_plane.demo import script as demo_script
from control_plane.models import NewSession, Session
from control_plane.render import line
from control_plane.runtime import Runtime
from control_plane.sessions import create_session
from harness.errors import NightshiftError
from harness.events import TERMINAL_STATUSES
from harness.model import Model
from harness.testing.anthropic_standin import AnthropicStandIn

T = TypeVar("T")
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _settings(config: Path | None) -> Settings:
    return Settings.load(os.environ, config)


def _run(coro: Coroutine[None, None, T]) -> T:
    """Run a command; our own errors become one clear line and exit status 2."""
    try:
        return asyncio.run(coro)
    except NightshiftError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        sys.exit(2)


config_option = click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML settings file (or NIGHTSHIFT_CONFIG)."
)


@click.group()
def main() -> None:
    """Nightshift: background coding agents, self-hosted."""


@main.command()
@click.option("--repo", required=True, help="Git URL or local path; the work is pushed back there.")
@click.option("--base", default=None, help="Branch, tag or commit to start from (default: the default branch).")
@click.option("--as", "requested_by", default=lambda: os.environ.get("USER", "cli"), help="Who is asking.")
@config_option
@click.argument("prompt")
def run(repo: str, base: str | None, requested_by: str, config: Path | None, prompt: str) -> None:
    """Run one session in the foreground and print its progress. PROMPT may be - to read stdin."""
    text = sys.stdin.read() if prompt == "-" else prompt
    settings = _settings(config)
    session = _run(
        _foreground(
            settings, NewSession(repo=repo, base=base, prompt=text, requested_by=requested_by, source="cli"), None
        )
    )
    sys.exit(0 if session.status == "finished" else 1)


async def _foreground(settings: Settings, req: NewSession, model: Model | None) -> Session:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # like Ctrl-C
    async with Runtime.open(settings) as rt:
        chosen = model or rt.model()
        session = await create_session(rt.store, req, max_prompt_bytes=settings.max_prompt_bytes)
        console.print(f"session [bold]{session.id}[/bold] · {escape(session.title)}")
        worker = rt.worker(chosen, concurrency=1)
        work = asyncio.create_task(worker.run())
        try:
            final = await _follow(rt, session.id, stop_when_done=True)
        except (KeyboardInterrupt, asyncio.CancelledError):
            err.print("stopping: the work so far is committed and pushed as a checkpoint…")
            await rt.store.request_cancel(session.id)
            final = await _follow(rt, session.id, stop_when_done=True, quiet=True)
        finally:
            worker.stop()
            await work
        _report(final)
        return final


async def _follow(rt: Runtime, session_id: str, *, stop_when_done: bool, quiet: bool = False) -> Session:
    cursor = "0-0"
    with console.status("working…", spinner="dots") as status:
        while True:
            events = await rt.store.wait_events(session_id, after=cursor, block_ms=500)
            for item in events:
                cursor = item.id
                if not quiet:
                    console.print(escape(line(item.event)))
                status.update(_waiting_for(item.event.kind))
            session = await rt.store.get(session_id)
            if stop_when_done and not events and session.status in TERMINAL_STATUSES:
                return session


def _waiting_for(kind: str) -> str:
    return {"tool_started": "running tool…", "note": "preparing…", "model_retry": "waiting to retry…"}.get(
        kind, "waiting for the model…"
    )


def _report(s: Session) -> None:
    console.print()
    console.print(f"session   {s.id}")
    console.print(f"status    {s.status}")
    console.print(f"branch    {s.branch if s.pushed_commit else '(nothing pushed: no changes)'}")
    console.print(f"usage     {s.steps} steps · {s.input_tokens + s.output_tokens:,} tokens · ${s.cost_usd:.4f}")
    if s.summary:
        console.print(f"summary   {escape(s.summary)}")
    if s.error and s.error != s.summary:
        err.print(f"[red]error[/red]     {escape(s.error)}")


@main.command()
@config_option
def demo(config: Path | None) -> None:
    """One real session (Redis, sandbox, git push) driven by a SCRIPTED model, on a throwaway repo. No API key."""
    err.print(
        "[bold yellow]scripted demo:[/bold yellow] the 'model' below replays a fixed script; it is not a real "
        "model. Everything else — Redis, the sandbox, git, the push — is the real thing.\n"
    )
    with tempfile.TemporaryDirectory(prefix="nightshift-demo-") as tmp, AnthropicStandIn(demo_script()) as standin:
        repo = make_repo(Path(tmp))
        req = demo_request(repo, os.environ.get("USER", "cli"))
        session = _run(_foreground(demo_settings(_settings(config), standin.base_url), req, None))
        if session.pushed_commit:
            shown = subprocess.run(
                ["git", "--git-dir", str(repo), "show", f"{session.branch}:calc.py"],
                capture_output=True,
                text=True,
                check=True,
            )
            console.print(f"\ncalc.py on {session.branch}:\n{escape(shown.stdout)}")
    sys.exit(0 if session.status == "finished" else 1)


@main.command()
@click.option("--host", default=None, help="Default: NIGHTSHIFT_HOST or 127.0.0.1.")
@click.option("--port", type=int, default=None, help="Default: NIGHTSHIFT_PORT or 8000.")
@click.option("--workers", "concurrency", type=int, default=None, help="Sessions run at once in this process.")
@config_option
def serve(host: str | None, port: int | None, concurrency: int | None, config: Path | None) -> None:
    """Run the HTTP API and a worker in one process."""
    _run(_serve(_settings(config), host, port, concurrency))


async def _serve(settings: Settings, host: str | None, port: int | None, concurrency: int | None) -> None:
    async with Runtime.open(settings) as rt:
        worker = rt.worker(rt.model(), concurrency=concurrency)
        token_hint = "NIGHTSHIFT_API_TOKEN" if settings.api_token else f"the token in {settings.data_dir / 'api-token'}"
        app = rt.api()
        server = _Server(uvicorn.Config(app, host=host or settings.host, port=port or settings.port, log_level="info"))
        err.print(f"API on http://{server.config.host}:{server.config.port} (docs at /docs); auth: {token_hint}")
        work = asyncio.create_task(worker.run())
        try:
            await server.serve()
        finally:
            worker.stop()
            await work


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down, which would end the process before the worker
    hands its sessions back and the embedded Redis stops. Same handlers, without the re-raise."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


@main.command()
@click.option("--concurrency", type=int, default=None, help="Sessions run at once (NIGHTSHIFT_WORKER_CONCURRENCY).")
@config_option
def worker(concurrency: int | None, config: Path | None) -> None:
    """Run a worker against the same Redis as `serve` (REDIS_URL)."""
    _run(_worker(_settings(config), concurrency))


async def _worker(settings: Settings, concurrency: int | None) -> None:
    async with Runtime.open(settings) as rt:
        w = rt.worker(rt.model(), concurrency=concurrency)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, w.stop)
        err.print("worker started; Ctrl-C or SIGTERM hands running sessions back to the queue")
        await w.run()


@main.command()
@click.option("--limit", type=int, default=20, show_default=True)
@config_option
def sessions(limit: int, config: Path | None) -> None:
    """List sessions, newest first."""
    _run(_sessions(_settings(config), limit))


async def _sessions(settings: Settings, limit: int) -> None:
    async with Runtime.open(settings) as rt:
        table = Table("id", "status", "source", "by", "repo", "title", "cost", box=None)
        for s in await rt.store.recent(limit=limit):
            table.add_row(
                s.id, s.status, s.source, s.requested_by, s.repo[-40:], escape(s.title[:50]), f"${s.cost_usd:.2f}"
            )
        console.print(table)


@main.command()
@click.argument("session_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the session ends.")
@config_option
def logs(session_id: str, follow: bool, config: Path | None) -> None:
    """Print a session's events."""
    _run(_logs(_settings(config), session_id, follow))


async def _logs(settings: Settings, session_id: str, follow: bool) -> None:
    async with Runtime.open(settings) as rt:
        await rt.store.get(session_id)
        if follow:
            _report(await _follow(rt, session_id, stop_when_done=True))
            return
        for item in await rt.store.events(session_id):
            console.print(escape(line(item.event)))
