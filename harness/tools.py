"""The tools the agent can call. Each tool validates its input with a pydantic model and acts only
through the Sandbox interface, so the same tools work on every provider."""

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field, JsonValue, ValidationError

from harness.errors import SandboxError
from harness.messages import ToolSpec
from harness.sandboxes import Sandbox


class ToolOutcome(BaseModel):
    output: str
    is_error: bool = False
    truncated: bool = False


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


@dataclass(frozen=True)
class ToolLimits:
    output_limit_bytes: int = 30_000
    """Tool output shown to the model; longer output is cut in the middle and marked."""
    max_command_timeout_s: int = 600


Runner = Callable[[Sandbox, BaseModel, ToolLimits], Awaitable[ToolOutcome]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_model: type[BaseModel]
    run: Runner

    def spec(self) -> ToolSpec:
        schema: dict[str, JsonValue] = self.input_model.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(name=self.name, description=self.description, input_schema=schema)


async def _shell(sandbox: Sandbox, args: BaseModel, limits: ToolLimits) -> ToolOutcome:
    assert isinstance(args, ShellInput)
    timeout_s = min(args.timeout_s, limits.max_command_timeout_s)
    result = await sandbox.exec(args.command, timeout_s=timeout_s, output_limit_bytes=limits.output_limit_bytes)
    status = f"killed after {timeout_s}s (timeout)" if result.timed_out else f"exit code {result.exit_code}"
    return ToolOutcome(
        output=f"{status}\n{result.output}",
        is_error=result.timed_out or result.exit_code != 0,
        truncated=result.truncated,
    )


async def _read_text(sandbox: Sandbox, path: str) -> str:
    data = await sandbox.read_file(path)
    if b"\0" in data[:8000]:
        raise SandboxError(f"{path} is a binary file ({len(data)} bytes)")
    return data.decode("utf-8", errors="replace")


async def _read_file(sandbox: Sandbox, args: BaseModel, limits: ToolLimits) -> ToolOutcome:
    assert isinstance(args, ReadFileInput)
    lines = (await _read_text(sandbox, args.path)).splitlines()
    start = args.offset_line - 1
    shown = lines[start : start + args.limit_lines]
    body = "\n".join(f"{n:6}\t{line}" for n, line in enumerate(shown, start=args.offset_line))
    if start + len(shown) < len(lines):
        body += f"\n[... {len(lines) - start - len(shown)} more lines; read on with offset_line]"
    return _capped(body or "(empty file)", limits)


async def _write_file(sandbox: Sandbox, args: BaseModel, limits: ToolLimits) -> ToolOutcome:
    assert isinstance(args, WriteFileInput)
    await sandbox.write_file(args.path, args.content.encode())
    return ToolOutcome(output=f"wrote {len(args.content.encode())} bytes to {args.path}")


async def _edit_file(sandbox: Sandbox, args: BaseModel, limits: ToolLimits) -> ToolOutcome:
    assert isinstance(args, EditFileInput)
    text = await _read_text(sandbox, args.path)
    count = text.count(args.old_text) if args.old_text else 0
    if count == 0:
        return ToolOutcome(output=f"old_text was not found in {args.path}; nothing changed", is_error=True)
    if count > 1 and not args.replace_all:
        return ToolOutcome(
            output=f"old_text occurs {count} times in {args.path}; add context to make it unique, or set replace_all",
            is_error=True,
        )
    await sandbox.write_file(args.path, text.replace(args.old_text, args.new_text).encode())
    return ToolOutcome(output=f"replaced {count} occurrence(s) in {args.path}")


async def _search(sandbox: Sandbox, args: BaseModel, limits: ToolLimits) -> ToolOutcome:
    assert isinstance(args, SearchInput)
    pattern, path = shlex.quote(args.pattern), shlex.quote(args.path)
    command = (
        f"if command -v rg >/dev/null; then rg -n --no-heading --color never -e {pattern} -- {path}; "
        f"else grep -rnE --exclude-dir=.git -e {pattern} -- {path}; fi"
    )
    result = await sandbox.exec(command, timeout_s=60, output_limit_bytes=limits.output_limit_bytes)
    if result.exit_code == 1 and not result.output:
        return ToolOutcome(output="no matches")
    return ToolOutcome(output=result.output, is_error=result.exit_code not in (0, 1), truncated=result.truncated)


async def _list_files(sandbox: Sandbox, args: BaseModel, limits: ToolLimits) -> ToolOutcome:
    assert isinstance(args, ListFilesInput)
    command = (
        f"find {shlex.quote(args.path)} -maxdepth {args.max_depth} -not -path '*/.git' -not -path '*/.git/*' "
        "| LC_ALL=C sort | head -n 1000"
    )
    result = await sandbox.exec(command, timeout_s=60, output_limit_bytes=limits.output_limit_bytes)
    return ToolOutcome(output=result.output, is_error=result.exit_code != 0, truncated=result.truncated)


async def _finish(sandbox: Sandbox, args: BaseModel, limits: ToolLimits) -> ToolOutcome:
    return ToolOutcome(output="Session finished; the control plane commits and pushes your work.")


def _capped(text: str, limits: ToolLimits) -> ToolOutcome:
    data = text.encode()
    if len(data) <= limits.output_limit_bytes:
        return ToolOutcome(output=text)
    half = limits.output_limit_bytes // 2
    cut = len(data) - 2 * half
    head, tail = data[:half].decode(errors="ignore"), data[-half:].decode(errors="ignore")
    return ToolOutcome(output=f"{head}\n[... {cut} bytes cut ...]\n{tail}", truncated=True)


FINISH = "finish"
TOOLS: dict[str, Tool] = {
    t.name: t
    for t in [
        Tool("shell", "Run a bash command in the sandbox (tests, builds, git status...).", ShellInput, _shell),
        Tool("read_file", "Read a text file with line numbers.", ReadFileInput, _read_file),
        Tool("write_file", "Create or overwrite a file.", WriteFileInput, _write_file),
        Tool("edit_file", "Replace exact text in a file.", EditFileInput, _edit_file),
        Tool("search", "Search file contents with a regular expression.", SearchInput, _search),
        Tool("list_files", "List files and directories.", ListFilesInput, _list_files),
        Tool(FINISH, "End the session with a summary once the work is done and checked.", FinishInput, _finish),
    ]
}


def tool_specs() -> list[ToolSpec]:
    return [t.spec() for t in TOOLS.values()]


def describe(name: str, raw: dict[str, JsonValue]) -> str:
    """One line for people watching the session."""
    key = {"shell": "command", "search": "pattern", "finish": "summary"}.get(name, "path")
    value = str(raw.get(key, "")).replace("\n", " ")
    return f"{name} {value[:160]}".rstrip()


async def run_tool(sandbox: Sandbox, name: str, raw: dict[str, JsonValue], limits: ToolLimits) -> ToolOutcome:
    """Run one tool call. Bad input and sandbox failures become error results the model can react to."""
    tool = TOOLS.get(name)
    if tool is None:
        return ToolOutcome(output=f"unknown tool {name!r}; available: {', '.join(TOOLS)}", is_error=True)
    try:
        args = tool.input_model.model_validate(raw)
    except ValidationError as e:
        return ToolOutcome(output=f"invalid input for {name}: {e}", is_error=True)
    try:
        return await tool.run(sandbox, args, limits)
    except SandboxError as e:
        return ToolOutcome(output=f"{name} failed: {e}", is_error=True)
