"""`nightshift`: run a session in the foreground, serve the API with workers, inspect sessions."""

import asyncio
import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import click
import uvicorn
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from control_plane.automations import Automations, AutomationStatus
from control_plane.cancel import cancel_session
from control_plane.cli_support import config_option, console, err, run_command
from control_plane.config import Settings
from control_plane.config_reference import reference
from control_plane.demo import demo_request, demo_settings, make_repo
from control_plane.demo import script as demo_script
from control_plane.doctor import Check, Finding, Report, render, run_checks
from control_plane.doctor_checks import (
    check_bubblewrap,
    check_modal,
    check_model,
    check_redis,
    check_redis_auth,
    check_sandbox,
    check_sentry,
)
from control_plane.git import Mirrors, normalize_repo
from control_plane.log_setup import configure_logging
from control_plane.models import NewSession, Session
from control_plane.notes import NoteStore
from control_plane.pull_requests import PullRequestStore
from control_plane.redis_auth import refuse_open_redis
from control_plane.render import line
from control_plane.repo_knowledge import knowledge_at
from control_plane.runtime import Runtime
from control_plane.sandbox_cli import sandbox
from control_plane.sessions import create_session
from control_plane.stats import PrTotals, summarize
from evals.cli import eval_group
from harness.errors import ConfigError
from harness.events import TERMINAL_STATUSES
from harness.memory import RepoNote
from harness.model import Model
from harness.prompt import Capabilities, system_prompt
from harness.screenshot import ChromiumConfig, chromium_available
from harness.skills import KnowledgeLimits
from harness.testing.anthropic_standin import AnthropicStandIn


def _settings(config: Path | None, *, insecure_redis: bool = False) -> Settings:
    settings = Settings.load(os.environ, config)
    return settings.model_copy(update={"insecure_redis": True}) if insecure_redis else settings


insecure_redis_option = click.option(
    "--insecure-redis",
    is_flag=True,
    help="REDIS_URL is private to this control plane: accept it even though it answers without a password.",
)


class _LazyGroup(click.Group):
    """Subcommands imported on first use (click's lazy-loading recipe): the integrations' commands would otherwise
    load GitHub's and Slack's SDKs into every `nightshift` start."""

    LAZY = {"github": "integrations.github.cli:github", "slack": "integrations.slack.cli:slack"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.LAZY:
            return super().get_command(ctx, cmd_name)
        module, _, name = self.LAZY[cmd_name].partition(":")
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(cls=_LazyGroup)
def main() -> None:
    """Nightshift: background coding agents, self-hosted."""


@main.command()
@click.option("--repo", required=True, help="Git URL or local path; the work is pushed back there.")
@click.option("--base", default=None, help="Branch, tag or commit to start from (default: the default branch).")
@click.option("--as", "requested_by", default=lambda: os.environ.get("USER", "cli"), help="Who is asking.")
@click.option("--model", default=None, help="anthropic:NAME or openai:NAME (default: the repo's, else the default).")
@config_option
@click.argument("prompt")
def run(repo: str, base: str | None, requested_by: str, model: str | None, config: Path | None, prompt: str) -> None:
    """Run one session in the foreground and print its progress. PROMPT may be - to read stdin."""
    text = sys.stdin.read() if prompt == "-" else prompt
    settings = _settings(config)
    try:
        req = NewSession(repo=repo, base=base, prompt=text, requested_by=requested_by, source="cli", model=model)
    except ValidationError as e:
        raise click.BadParameter(str(e.errors()[0]["msg"])) from e
    session = run_command(_foreground(settings, req, None))
    sys.exit(0 if session.status == "finished" else 1)


async def _foreground(settings: Settings, req: NewSession, model: Model | None) -> Session:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # like Ctrl-C
    async with Runtime.open(settings) as rt:
        chosen = model or (rt.model_for(req.model) if req.model else rt.model())
        session = await create_session(
            rt.store, req, max_prompt_bytes=settings.max_prompt_bytes, credentials=rt.git_credentials()
        )
        console.print(f"session [bold]{session.id}[/bold] · {escape(session.title)}")
        worker = rt.worker(chosen, concurrency=1)
        work = asyncio.create_task(worker.run())
        try:
            final = await _follow(rt, session.id, stop_when_done=True)
        except (KeyboardInterrupt, asyncio.CancelledError):
            err.print("stopping: the work so far is committed and pushed as a checkpoint…")
            await cancel_session(rt.store, session.id)
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
        session = run_command(_foreground(demo_settings(_settings(config), standin.base_url), req, None))
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
@click.option("--api-only", is_flag=True, help="No worker in this process: sessions run in `nightshift worker`s.")
@insecure_redis_option
@config_option
def serve(
    host: str | None,
    port: int | None,
    concurrency: int | None,
    api_only: bool,
    insecure_redis: bool,
    config: Path | None,
) -> None:
    """Run the HTTP API and a worker in one process."""
    run_command(_serve(_settings(config, insecure_redis=insecure_redis), host, port, concurrency, api_only))


async def _serve(
    settings: Settings, host: str | None, port: int | None, concurrency: int | None, api_only: bool = False
) -> None:
    configure_logging(settings.log_format)
    async with Runtime.open(settings) as rt:  # reachable first (its own error), then closed to strangers
        await refuse_open_redis(settings)
        worker = None if api_only else rt.worker(rt.model(), concurrency=concurrency)
        token_hint = "NIGHTSHIFT_API_TOKEN" if settings.api_token else f"the token in {settings.data_dir / 'api-token'}"
        app = rt.api()
        # log_config=None: uvicorn's loggers go through ours (logs.configure), in the chosen format.
        config = uvicorn.Config(app, host=host or settings.host, port=port or settings.port, log_config=None)
        server = _Server(config)
        url = f"http://{server.config.host}:{server.config.port}"
        err.print(f"web UI on {url}/ and API on {url}/api (docs at /docs); auth: {token_hint}")
        work = asyncio.create_task(worker.run()) if worker else None
        try:
            await server.serve()
        finally:
            if worker and work:
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
@insecure_redis_option
@config_option
def worker(concurrency: int | None, insecure_redis: bool, config: Path | None) -> None:
    """Run a worker against the same Redis as `serve` (REDIS_URL)."""
    run_command(_worker(_settings(config, insecure_redis=insecure_redis), concurrency))


async def _worker(settings: Settings, concurrency: int | None) -> None:
    configure_logging(settings.log_format)
    async with Runtime.open(settings) as rt:
        await refuse_open_redis(settings)
        w = rt.worker(rt.model(), concurrency=concurrency)
        loop = asyncio.get_running_loop()

        def stop() -> None:
            err.print("stopping: running sessions finish their step, push a checkpoint and go back to the queue")
            w.stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        err.print("worker started; Ctrl-C or SIGTERM hands running sessions back to the queue (twice: at once)")
        await w.run()


@main.command()
@click.option("--limit", type=int, default=20, show_default=True)
@config_option
def sessions(limit: int, config: Path | None) -> None:
    """List sessions, newest first."""
    run_command(_sessions(_settings(config), limit))


async def _sessions(settings: Settings, limit: int) -> None:
    async with Runtime.open(settings) as rt:
        table = Table("id", "status", "source", "by", "repo", "title", "cost", box=None)
        for s in await rt.store.recent(limit=limit):
            shown_id = f"↳ {s.id}" if s.parent_id else s.id  # a sub-session
            table.add_row(
                shown_id, s.status, s.source, s.requested_by, s.repo[-40:], escape(s.title[:50]), f"${s.cost_usd:.2f}"
            )
        console.print(table)


@main.command()
@click.option("--days", type=float, default=None, help="Only pull requests opened in the last DAYS days.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (as GET /api/stats does).")
@config_option
def stats(days: float | None, as_json: bool, config: Path | None) -> None:
    """Pull requests Nightshift opened: merged, closed, time to merge, comments; by repo, source and person."""
    run_command(_stats(_settings(config), days, as_json))


async def _stats(settings: Settings, days: float | None, as_json: bool) -> None:
    async with Runtime.open(settings) as rt:
        since = time.time() - days * 86400 if days is not None else None
        figures = summarize(await PullRequestStore(rt.redis).all(since=since), since=since)
    if as_json:
        console.print_json(figures.model_dump_json())
        return
    console.print(_stats_table("all", {"total": figures.total}))
    for title, groups in (("repo", figures.by_repo), ("source", figures.by_source), ("person", figures.by_person)):
        if groups:
            console.print(_stats_table(title, groups))


def _stats_table(title: str, groups: dict[str, PrTotals]) -> Table:
    table = Table(f"by {title}", "opened", "merged", "closed", "open", "median to merge", "comments/PR", box=None)
    for name, t in groups.items():
        to_merge = _duration(t.median_time_to_merge_s)
        table.add_row(escape(name), *map(str, (t.opened, t.merged, t.closed, t.open)), to_merge, f"{t.comments_per_pr}")
    return table


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h" if seconds < 86400 else f"{seconds / 86400:.1f}d"


@main.command()
@click.argument("session_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the session ends.")
@config_option
def logs(session_id: str, follow: bool, config: Path | None) -> None:
    """Print a session's events."""
    run_command(_logs(_settings(config), session_id, follow))


async def _logs(settings: Settings, session_id: str, follow: bool) -> None:
    async with Runtime.open(settings) as rt:
        await rt.store.get(session_id)
        if follow:
            _report(await _follow(rt, session_id, stop_when_done=True))
            return
        for item in await rt.store.events(session_id):
            console.print(escape(line(item.event)))


@main.group()
def skills() -> None:
    """The skills and repository docs an agent is given."""


@skills.command("list")
@click.option("--repo", required=True, help="Git URL or local path of the repository.")
@click.option("--ref", default=None, help="Branch, tag or commit (default: the default branch).")
@click.option("--prompt", "show_prompt", is_flag=True, help="Print the whole system prompt a session would get.")
@config_option
def skills_list(repo: str, ref: str | None, show_prompt: bool, config: Path | None) -> None:
    """What an agent working on REPO sees: built-in and repo skills, AGENTS.md/CLAUDE.md (capped), notes."""
    run_command(_skills_list(_settings(config), normalize_repo(repo), ref, show_prompt))


async def _skills_list(settings: Settings, repo: str, ref: str | None, show_prompt: bool) -> None:
    limits = KnowledgeLimits(repo_doc_limit_bytes=settings.repo_doc_limit_bytes)
    knowledge = await knowledge_at(Mirrors(settings.data_dir / "mirrors"), repo, ref, limits)
    async with Runtime.open(settings) as rt:
        notes = await NoteStore(rt.redis).list(repo)
    if show_prompt:
        chromium = ChromiumConfig(executable=settings.chromium_path)
        can = Capabilities(
            can_note=True,
            can_spawn=settings.max_sub_sessions > 0 and settings.max_sub_session_depth > 0,
            max_children=settings.max_sub_sessions,
            can_screenshot=settings.sandbox == "local" and chromium_available(chromium),
        )
        shown = system_prompt(
            repo=repo, workdir="/workspace", branch="(per session)", knowledge=knowledge, notes=notes, capabilities=can
        )
        click.echo(shown)
        return
    for skill in knowledge.skills:
        console.print(f"[bold]{skill.name}[/bold]  [dim]{skill.path}[/dim]\n    {escape(skill.description)}")
    for doc in knowledge.docs:
        cut = f", cut to {settings.repo_doc_limit_bytes:,} bytes" if doc.cut else ""
        console.print(f"{doc.path}: {doc.size_bytes:,} bytes in the prompt{cut}")
    console.print(f"notes: {len(notes)} (nightshift notes list --repo {repo})")
    for problem in knowledge.problems:
        err.print(f"[yellow]not used:[/yellow] {escape(problem)}")


@main.group()
def notes() -> None:
    """Repo memory: notes every session on a repository is given. Agents add them (logged); people edit them."""


repo_option = click.option("--repo", required=True, help="Git URL or local path of the repository.")


@notes.command("list")
@repo_option
@config_option
def notes_list(repo: str, config: Path | None) -> None:
    """The repository's notes, oldest first."""
    run_command(_notes(_settings(config), lambda n: n.list(normalize_repo(repo))))


@notes.command("add")
@repo_option
@click.option("--as", "author", default=lambda: os.environ.get("USER", "cli"), help="Who writes it.")
@config_option
@click.argument("text")
def notes_add(repo: str, author: str, config: Path | None, text: str) -> None:
    """Add a note."""
    run_command(_notes(_settings(config), lambda n: n.add(normalize_repo(repo), text, author=author)))


@notes.command("edit")
@repo_option
@config_option
@click.argument("note_id")
@click.argument("text")
def notes_edit(repo: str, config: Path | None, note_id: str, text: str) -> None:
    """Replace a note's text."""
    run_command(_notes(_settings(config), lambda n: n.update(normalize_repo(repo), note_id, text)))


@notes.command("rm")
@repo_option
@config_option
@click.argument("note_id")
def notes_rm(repo: str, config: Path | None, note_id: str) -> None:
    """Remove a note."""
    run_command(_notes(_settings(config), lambda n: n.remove(normalize_repo(repo), note_id)))


NoteAction = Callable[[NoteStore], Awaitable[RepoNote | list[RepoNote] | None]]


async def _notes(settings: Settings, action: NoteAction) -> None:
    async with Runtime.open(settings) as rt:
        result = await action(NoteStore(rt.redis, max_notes=settings.max_repo_notes))
    shown = result if isinstance(result, list) else [result] if result else []
    for note in shown:
        by = f"{note.author}" + (f" (session {note.session_id})" if note.session_id else "")
        console.print(f"[bold]{note.id}[/bold]  {escape(note.text)}  [dim]— {escape(by)}[/dim]")
    if result is None:
        console.print("removed")
    elif not shown:
        console.print("no notes")


@main.group()
def automations() -> None:
    """Triage automations (Sentry projects, generic webhooks): see their state, pause and resume them."""


@automations.command("list")
@config_option
def automations_list(config: Path | None) -> None:
    """Every configured automation: paused or active, failures in a row, deliveries skipped while paused."""
    run_command(_automations(_settings(config), lambda a: a.list()))


@automations.command("pause")
@click.option("--reason", default="paused by hand", show_default=True)
@click.option("--as", "by", default=lambda: os.environ.get("USER", "cli"), help="Who pauses it.")
@config_option
@click.argument("automation_id")
def automations_pause(reason: str, by: str, config: Path | None, automation_id: str) -> None:
    """Stop starting sessions for AUTOMATION_ID (e.g. sentry:calc-api); its deliveries are counted, not run."""
    run_command(_automations(_settings(config), lambda a: a.pause(automation_id, f"{reason} ({by})")))


@automations.command("resume")
@config_option
@click.argument("automation_id")
def automations_resume(config: Path | None, automation_id: str) -> None:
    """Start sessions for AUTOMATION_ID again; its failure count starts over."""
    run_command(_automations(_settings(config), lambda a: a.resume(automation_id)))


AutomationAction = Callable[[Automations], Awaitable[AutomationStatus | list[AutomationStatus]]]


async def _automations(settings: Settings, action: AutomationAction) -> None:
    async with Runtime.open(settings) as rt:
        result = await action(rt.automations())
    shown = result if isinstance(result, list) else [result]
    if not shown:
        console.print("no automations are configured (sentry_project_repos, webhooks)")
        return
    table = Table("automation", "repo", "state", "failures in a row", "skipped while paused", "last session")
    for a in shown:
        state = f"paused: {a.state.paused_reason}" if a.state.paused else "active"
        table.add_row(
            a.id,
            a.repo,
            escape(state),
            str(a.state.consecutive_failures),
            str(a.state.skipped_while_paused),
            a.state.last_session_id or "-",
        )
    console.print(table)


@main.command()
@click.argument("pr_url", required=False)
@click.option("--diff", "diff_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), help="A diff file.")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False, exists=True), help="Checkout the diff is on.")
@click.option("--rules-only", is_flag=True, help="Skip the model; run the deterministic rules only.")
@config_option
def review(
    pr_url: str | None, diff_file: Path | None, repo: Path | None, rules_only: bool, config: Path | None
) -> None:
    """Review a pull request (PR_URL) or a diff file and print the findings; nothing is posted."""
    from reviewer.cli import print_review, run_review  # the reviewer loads only for this command

    if (pr_url is None) == (diff_file is None):
        raise click.UsageError("give either PR_URL or --diff FILE")
    review_run = run_review(_settings(config), pr_url=pr_url, diff_file=diff_file, repo=repo, rules_only=rules_only)
    result = run_command(review_run)
    print_review(result, console)
    sys.exit(1 if result.findings else 0)


main.add_command(sandbox)
main.add_command(eval_group)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@insecure_redis_option
@config_option
def doctor(as_json: bool, insecure_redis: bool, config: Path | None) -> None:
    """Check every part of the setup; say what is wrong and how to fix it. Exit status 1 when a check fails."""
    try:
        settings = _settings(config, insecure_redis=insecure_redis)
    except ConfigError as e:
        report = Report(findings=[Finding(part="config", status="fail", message=str(e))])
    else:
        report = asyncio.run(run_checks(_doctor_checks(settings)))
    click.echo(report.model_dump_json(indent=2) if as_json else "\n".join(render(report)))
    sys.exit(0 if report.ok else 1)


@main.group("config")
def config_group() -> None:
    """The settings Nightshift reads (environment and TOML file)."""


@config_group.command("reference")
def config_reference() -> None:
    """Print docs/configuration.md: every setting, its environment variables, default and meaning."""
    click.echo(reference(), nl=False)


def _doctor_checks(settings: Settings) -> list[tuple[str, Check]]:
    from integrations.github.doctor import check_github  # the integrations load only for this command
    from integrations.slack.doctor import check_slack

    return [
        ("redis", lambda: check_redis(settings)),
        ("redis-auth", lambda: check_redis_auth(settings)),
        ("model", lambda: check_model(settings)),
        ("github", lambda: check_github(settings)),
        ("slack", lambda: check_slack(settings)),
        ("sentry", lambda: check_sentry(settings)),
        ("modal", lambda: check_modal(settings)),
        ("bubblewrap", lambda: check_bubblewrap(settings, shutil.which("bwrap"))),
        ("sandbox", lambda: check_sandbox(settings)),
    ]


if __name__ == "__main__":  # `python -m control_plane.cli`: worker processes started from a source tree
    main()
