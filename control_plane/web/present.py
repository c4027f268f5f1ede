"""Pure helpers that turn log data into what a page shows: tool calls, diffs, repo links, numbers and times.

Templates call these; they never see raw tool input dictionaries, only the typed views built here.
"""

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ValidationError

from harness.messages import ToolUseBlock
from harness.tools import TOOLS, EditFileInput, FinishInput, ReadFileInput, ShellInput, WriteFileInput

DiffKind = Literal["hunk", "add", "del", "ctx"]
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Artifacts shown (and served) inline; anything else, SVG included (it can carry script), is a download."""


@dataclass(frozen=True)
class DiffLine:
    kind: DiffKind
    text: str


@dataclass(frozen=True)
class ToolCallView:
    id: str
    name: str
    headline: str
    """What the call is about in one line: the path, the pattern."""
    command: str | None = None
    diff: list[DiffLine] | None = None
    """edit_file: the replacement as a diff; write_file: the new content, every line added."""
    text: str | None = None
    """finish: the summary."""
    raw_input: str | None = None
    """Tools this page has no special view for, and input the tool itself would refuse: the JSON as sent."""


def diff_lines(old: str, new: str) -> list[DiffLine]:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    out: list[DiffLine] = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = _diff_kind(line)
        out.append(DiffLine(kind, line if kind == "hunk" else line[1:]))
    return out


def _diff_kind(line: str) -> DiffKind:
    if line.startswith("@@"):
        return "hunk"
    return "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx"


def tool_call(block: ToolUseBlock) -> ToolCallView:
    tool = TOOLS.get(block.name)
    raw = json.dumps(block.input, indent=2, ensure_ascii=False)
    if tool is None:
        return ToolCallView(block.id, block.name, "", raw_input=raw)
    try:
        args = tool.input_model.model_validate(block.input)
    except ValidationError:
        return ToolCallView(block.id, block.name, "invalid input", raw_input=raw)
    return _view(block, args, raw)


def _view(block: ToolUseBlock, args: BaseModel, raw: str) -> ToolCallView:
    match args:
        case ShellInput():
            return ToolCallView(block.id, block.name, "", command=args.command)
        case EditFileInput():
            return ToolCallView(block.id, block.name, args.path, diff=diff_lines(args.old_text, args.new_text))
        case WriteFileInput():
            lines = [DiffLine("add", line) for line in args.content.splitlines()]
            return ToolCallView(block.id, block.name, args.path, diff=lines)
        case ReadFileInput():
            return ToolCallView(block.id, block.name, f"{args.path} from line {args.offset_line}")
        case FinishInput():
            return ToolCallView(block.id, block.name, "", text=args.summary)
    return ToolCallView(block.id, block.name, " ".join(str(v) for v in block.input.values())[:200], raw_input=raw)


def repo_label(repo: str) -> str:
    """A repository as people may see it: never with the user:password@ a URL can carry."""
    parts = urlsplit(repo)
    if parts.scheme in ("http", "https", "ssh", "git") and parts.netloc:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return repo


def repo_url(repo: str) -> str | None:
    """A browsable https URL for a remote repository; None for a path on the control plane's machine."""
    label = repo_label(repo)
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(.+)", repo)  # git@github.com:owner/name.git
    if scp:
        label = f"https://{scp.group(1)}/{scp.group(2)}"
    elif not label.startswith(("https://", "http://")):
        return None
    return label.removesuffix(".git").removesuffix("/")


def branch_url(repo: str, branch: str) -> str | None:
    """Only GitHub's URL layout is known here; elsewhere the branch is shown without a link."""
    url = repo_url(repo)
    if url is None or urlsplit(url).hostname != "github.com":
        return None
    return f"{url}/tree/{branch}"


def clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def money(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 1 or usd == 0 else f"${usd:.4f}"


def tokens(n: int) -> str:
    return f"{n / 1_000_000:.1f}M" if n >= 1_000_000 else f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds * 1000:.0f}ms"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m {seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h {seconds % 3600 // 60:02.0f}m"


def first_line(text: str, width: int = 120) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def query(params: Mapping[str, object], **more: object) -> str:
    """A query string for a link that keeps the current filters: "?a=1&b=2", or "" when there is nothing to keep."""
    kept = {k: v for k, v in {**params, **more}.items() if v not in (None, "")}
    return f"?{urlencode(kept)}" if kept else ""


def safe_url(url: str | None) -> str | None:
    """A link target from an integration's data, only if it is http(s): never javascript: or data:."""
    if url is None:
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None
