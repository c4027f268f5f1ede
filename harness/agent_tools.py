"""Tools beyond code: load a skill's instructions, propose a repo note, take a screenshot of a served page."""

import asyncio
import time

from pydantic import BaseModel, Field

from harness.errors import SandboxError, ToolInputError
from harness.events import RepoNoteAdded
from harness.memory import MAX_NOTE_CHARS
from harness.sandboxes import ExecResult
from harness.sandboxes.base import SandboxLoopback, ServingSandbox
from harness.screenshot import served_port
from harness.toolbox import NewArtifact, Tool, ToolContext, ToolOutcome, capped


class LoadSkillInput(BaseModel):
    name: str = Field(description="The skill's name, as listed in the system prompt.")


class ProposeNoteInput(BaseModel):
    text: str = Field(
        min_length=1,
        max_length=MAX_NOTE_CHARS,
        description="One durable fact about this repository for later sessions, e.g. 'Use pnpm, not npm'.",
    )
    reason: str = Field(max_length=500, description="Why: who said it or what showed it (e.g. '[ana] corrected me').")


class ScreenshotInput(BaseModel):
    url: str = Field(description="The page as the sandbox serves it, e.g. http://localhost:8000/index.html.")
    serve_command: str | None = Field(
        None,
        description=(
            "A command that serves the page (e.g. `python3 -m http.server 8000`), started before the screenshot "
            "and stopped after it. Leave empty only if the page is already being served by a running command."
        ),
    )
    wait_s: float = Field(30, ge=1, le=180, description="How long to wait for the URL to answer.")
    width: int = Field(1280, ge=200, le=3840)
    height: int = Field(800, ge=200, le=2160)
    full_page: bool = Field(True, description="Capture the whole page, not only the first screen.")
    description: str = Field("", max_length=300, description="What the screenshot shows, for the people reviewing.")


async def _load_skill(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, LoadSkillInput)
    skill = ctx.skills.get(args.name)
    if skill is None:
        raise ToolInputError(f"no skill named {args.name!r}; available: {', '.join(sorted(ctx.skills)) or 'none'}")
    return capped(f"# Skill: {skill.name} ({skill.path})\n\n{skill.body}", ctx.limits)


async def _propose_note(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, ProposeNoteInput) and ctx.memory is not None
    note = await ctx.memory.add(args.text, reason=args.reason)
    return ToolOutcome(
        output=(
            f"saved note {note.id} for {note.repo}; later sessions on this repository get it. "
            "People see it in this session's log and can edit or remove it (`nightshift notes`)."
        ),
        events=[RepoNoteAdded(note_id=note.id, repo=note.repo, text=note.text, reason=note.reason)],
    )


async def _take_screenshot(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, ScreenshotInput) and ctx.screenshots is not None
    assert isinstance(ctx.sandbox, ServingSandbox)
    ctx.screenshots.check_url(args.url)
    loopback = await ctx.sandbox.loopback()
    server = None
    if args.serve_command:
        # Commands do not outlive their exec call (the sandbox kills the group): the server runs for this call only.
        timeout_s = args.wait_s + 120
        server = asyncio.create_task(ctx.sandbox.exec(args.serve_command, timeout_s=timeout_s))
    try:
        await _wait_until_served(args.url, loopback, args.wait_s, server)
        png = await ctx.screenshots.capture(
            args.url, loopback, width=args.width, height=args.height, full_page=args.full_page, timeout_s=args.wait_s
        )
    finally:
        if server is not None:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)  # its cancellation, which we just asked for
    shown = args.description or args.url
    return ToolOutcome(
        output=f"screenshot of {args.url} saved ({len(png):,} bytes PNG); people see it with the session",
        artifacts=[NewArtifact(name="screenshot.png", data=png, mime_type="image/png", description=shown)],
    )


async def _wait_until_served(
    url: str, loopback: SandboxLoopback, wait_s: float, server: "asyncio.Task[ExecResult] | None"
) -> None:
    """Until the port accepts connections on the sandbox's own loopback (never the worker's)."""
    deadline = time.monotonic() + wait_s
    port = served_port(url)
    while True:
        if server is not None and server.done():
            result = server.result()
            raise SandboxError(
                f"serve_command ended (exit code {result.exit_code}) before the page answered: {result.output[-1500:]}"
            )
        if await loopback.accepts(port):
            return
        if time.monotonic() > deadline:
            raise SandboxError(f"{url} did not answer within {wait_s:.0f}s")
        await asyncio.sleep(0.2)


TOOLS = [
    Tool(
        "load_skill",
        "Load the full instructions of a skill listed in the system prompt.",
        LoadSkillInput,
        _load_skill,
        available=lambda ctx: bool(ctx.skills),
    ),
    Tool(
        "propose_note",
        "Remember a durable fact about this repository for later sessions (after a person corrects you, or you "
        "learn a convention the repo does not document). Visible to people, who can edit or remove it.",
        ProposeNoteInput,
        _propose_note,
        available=lambda ctx: ctx.memory is not None,
    ),
    Tool(
        "take_screenshot",
        "Load a page the sandbox serves in headless Chromium and save a PNG screenshot for the people reviewing "
        "(shown with the session, for the pull request's reviewers).",
        ScreenshotInput,
        _take_screenshot,
        available=lambda ctx: ctx.screenshots is not None and isinstance(ctx.sandbox, ServingSandbox),
    ),
]
