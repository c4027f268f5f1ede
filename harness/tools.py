"""The tools the agent can call, and the registry of all of them. Each tool validates its input with a pydantic
model and acts only through its ToolContext (the Sandbox interface and the capabilities the control plane wired
in), so the same tools work on every provider. The code tools live here; the others in agent_tools.py
(skills, repo notes, screenshots) and subsession_tools.py."""

import shlex

from pydantic import BaseModel, Field, JsonValue, ValidationError

from harness import agent_tools, subsession_tools
from harness.errors import SandboxError, ToolInputError
from harness.messages import ToolSpec
from harness.sandboxes import Sandbox
from harness.toolbox import Tool, ToolContext, ToolOutcome, capped


class ShellInput(BaseModel):
    command: str = Field(description="A bash command, run in the repository's root directory.")
    timeout_s: int = Field(120, ge=1, le=3600, description="Seconds before the command is killed.")


class ReadFileInput(BaseModel):
    path: str = Field(description="Path relative to the repository root.")
    offset_line: int = Field(1, ge=1, description="First line to show (1-based).")
    limit_lines: int = Field(400, ge=1, le=5000, description="How many lines to show at most.")


class WriteFileInput(BaseModel):
    path: str = Field(description="Path relative to the repository root; parent directories are created.")
    content: str = Field(description="The whole new content of the file.")


class EditFileInput(BaseModel):
    path: str = Field(description="Path relative to the repository root.")
    old_text: str = Field(description="Exact text to replace; must occur exactly once unless replace_all is set.")
    new_text: str = Field(description="Replacement text.")
    replace_all: bool = Field(False, description="Replace every occurrence instead of exactly one.")


class SearchInput(BaseModel):
    pattern: str = Field(description="A regular expression (ripgrep syntax when available, else grep -E).")
    path: str = Field(".", description="Directory or file to search, relative to the repository root.")


class ListFilesInput(BaseModel):
    path: str = Field(".", description="Directory relative to the repository root.")
    max_depth: int = Field(2, ge=1, le=10, description="How deep to descend.")


class FinishInput(BaseModel):
    summary: str = Field(description="What you did, how you checked it, and anything left for a person to do.")


async def _shell(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, ShellInput)
    timeout_s = min(args.timeout_s, ctx.limits.max_command_timeout_s)
    result = await ctx.sandbox.exec(
        args.command, timeout_s=timeout_s, output_limit_bytes=ctx.limits.artifact_limit_bytes
    )
    status = f"killed after {timeout_s}s (timeout)" if result.timed_out else f"exit code {result.exit_code}"
    shown = capped(f"{status}\n{result.output}", ctx.limits)
    failed = result.timed_out or result.exit_code != 0
    return shown.model_copy(update={"is_error": failed, "truncated": shown.truncated or result.truncated})


async def _read_text(sandbox: Sandbox, path: str) -> str:
    data = await sandbox.read_file(path)
    if b"\0" in data[:8000]:
        raise SandboxError(f"{path} is a binary file ({len(data)} bytes)")
    return data.decode("utf-8", errors="replace")


async def _read_file(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, ReadFileInput)
    lines = (await _read_text(ctx.sandbox, args.path)).splitlines()
    start = args.offset_line - 1
    shown = lines[start : start + args.limit_lines]
    body = "\n".join(f"{n:6}\t{line}" for n, line in enumerate(shown, start=args.offset_line))
    if start + len(shown) < len(lines):
        body += f"\n[... {len(lines) - start - len(shown)} more lines; read on with offset_line]"
    return capped(body or "(empty file)", ctx.limits)


async def _write_file(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, WriteFileInput)
    await ctx.sandbox.write_file(args.path, args.content.encode())
    return ToolOutcome(output=f"wrote {len(args.content.encode())} bytes to {args.path}")


async def _edit_file(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, EditFileInput)
    text = await _read_text(ctx.sandbox, args.path)
    count = text.count(args.old_text) if args.old_text else 0
    if count == 0:
        return ToolOutcome(output=f"old_text was not found in {args.path}; nothing changed", is_error=True)
    if count > 1 and not args.replace_all:
        return ToolOutcome(
            output=f"old_text occurs {count} times in {args.path}; add context to make it unique, or set replace_all",
            is_error=True,
        )
    await ctx.sandbox.write_file(args.path, text.replace(args.old_text, args.new_text).encode())
    return ToolOutcome(output=f"replaced {count} occurrence(s) in {args.path}")


async def _search(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, SearchInput)
    pattern, path = shlex.quote(args.pattern), shlex.quote(args.path)
    command = (
        f"if command -v rg >/dev/null; then rg -n --no-heading --color never -e {pattern} -- {path}; "
        f"else grep -rnE --exclude-dir=.git -e {pattern} -- {path}; fi"
    )
    result = await ctx.sandbox.exec(command, timeout_s=60, output_limit_bytes=ctx.limits.artifact_limit_bytes)
    if result.exit_code == 1 and not result.output:
        return ToolOutcome(output="no matches")
    shown = capped(result.output, ctx.limits)
    failed = result.exit_code not in (0, 1)
    return shown.model_copy(update={"is_error": failed, "truncated": shown.truncated or result.truncated})


async def _list_files(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, ListFilesInput)
    command = (
        f"find {shlex.quote(args.path)} -maxdepth {args.max_depth} -not -path '*/.git' -not -path '*/.git/*' "
        "| LC_ALL=C sort | head -n 1000"
    )
    result = await ctx.sandbox.exec(command, timeout_s=60, output_limit_bytes=ctx.limits.artifact_limit_bytes)
    shown = capped(result.output, ctx.limits)
    return shown.model_copy(
        update={"is_error": result.exit_code != 0, "truncated": shown.truncated or result.truncated}
    )


async def _finish(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    return ToolOutcome(output="Session finished; the control plane commits and pushes your work.")


FINISH = "finish"
CODE_TOOLS = [
    Tool("shell", "Run a bash command in the sandbox (tests, builds, git status...).", ShellInput, _shell),
    Tool("read_file", "Read a text file with line numbers.", ReadFileInput, _read_file),
    Tool("write_file", "Create or overwrite a file.", WriteFileInput, _write_file),
    Tool("edit_file", "Replace exact text in a file.", EditFileInput, _edit_file),
    Tool("search", "Search file contents with a regular expression.", SearchInput, _search),
    Tool("list_files", "List files and directories.", ListFilesInput, _list_files),
]
FINISH_TOOL = Tool(FINISH, "End the session with a summary once the work is done and checked.", FinishInput, _finish)
# finish stays last: the list is the cached prefix of every request, and its end carries the cache breakpoint.
TOOLS: dict[str, Tool] = {t.name: t for t in [*CODE_TOOLS, *agent_tools.TOOLS, *subsession_tools.TOOLS, FINISH_TOOL]}


def available(ctx: ToolContext) -> list[Tool]:
    return [t for t in TOOLS.values() if t.available(ctx)]


def tool_specs(ctx: ToolContext) -> list[ToolSpec]:
    return [t.spec() for t in available(ctx)]


def describe(name: str, raw: dict[str, JsonValue]) -> str:
    """One line for people watching the session."""
    key = {
        "shell": "command",
        "search": "pattern",
        "finish": "summary",
        "load_skill": "name",
        "propose_note": "text",
        "take_screenshot": "url",
        "spawn_session": "task",
        "message_session": "session_id",
        "collect_session": "session_id",
    }.get(name, "path")
    value = str(raw.get(key, "")).replace("\n", " ")
    return f"{name} {value[:160]}".rstrip()


async def run_tool(ctx: ToolContext, name: str, raw: dict[str, JsonValue]) -> ToolOutcome:
    """Run one tool call. Bad input, refusals and sandbox failures become error results the model can react to."""
    tool = TOOLS.get(name)
    if tool is None or not tool.available(ctx):
        names = ", ".join(t.name for t in available(ctx))
        return ToolOutcome(output=f"unknown tool {name!r}; available: {names}", is_error=True)
    try:
        args = tool.input_model.model_validate(raw)
    except ValidationError as e:
        return ToolOutcome(output=f"invalid input for {name}: {e}", is_error=True)
    try:
        return await tool.run(ctx, args)
    except (SandboxError, ToolInputError) as e:
        return ToolOutcome(output=f"{name} failed: {e}", is_error=True)
