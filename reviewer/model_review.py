"""The model part of a review: the repo's `.nightshift/review.md`, the diff, and a `read_file` tool for the code
around it. Findings come back through the `report_findings` tool as typed data, never parsed out of free text."""

from collections.abc import Sequence

from pydantic import BaseModel, Field, ValidationError

from harness.messages import Message, TextBlock, ToolResultBlock, ToolSpec, ToolUseBlock
from harness.model import Model
from reviewer.errors import ModelReviewError
from reviewer.models import Finding, Severity
from reviewer.tree import SourceTree

MAX_STEPS = 8
MAX_DIFF_CHARS = 120_000
MAX_READ_LINES = 400

SYSTEM = """You review a pull request for a team that lets coding agents write much of its code. Report only what a
careful senior engineer would bring up: bugs, hazards, missing tests for changed behaviour, and design that will cost
the next reader. No praise, no restating the diff, no style nits a formatter fixes.

Each finding sits on one line of the PR's head version that the diff adds, with a severity (error: must fix before
merge; warning: should fix in this PR; info: worth knowing), and says what is wrong and why it matters in one or two
sentences. Give `suggestion` (the replacement text for that one line) only when the fix is mechanical.

Use read_file to see code around the change when the diff is not enough. When done, call report_findings exactly
once, with an empty list if there is nothing worth saying. Deterministic rules have already reported the findings
listed in the request; do not repeat them.

The repository's own review guidance follows; it overrides the above where they disagree.

{guidance}"""


class ModelFinding(BaseModel):
    path: str
    line: int = Field(ge=1)
    severity: Severity
    message: str = Field(min_length=1)
    suggestion: str | None = None


class ModelReport(BaseModel):
    findings: list[ModelFinding]
    summary: str = ""
    """One or two sentences on the PR as a whole."""


READ_FILE = ToolSpec(
    name="read_file",
    description=f"Read a file of the PR's head commit, with line numbers; at most {MAX_READ_LINES} lines at a time.",
    input_schema={
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "start_line": {"type": "integer", "minimum": 1},
            "end_line": {"type": "integer", "minimum": 1},
        },
        "required": ["path"],
    },
)
REPORT = ToolSpec(
    name="report_findings",
    description="Report the review's findings and a short summary. Call once, at the end.",
    input_schema=ModelReport.model_json_schema(),
)


class ReadFileInput(BaseModel):
    path: str
    start_line: int = Field(1, ge=1)
    end_line: int | None = Field(None, ge=1)


async def model_findings(
    model: Model, tree: SourceTree, *, guidance: str, request: str, max_steps: int = MAX_STEPS
) -> ModelReport:
    """`request`: the PR, its diff and the rules' findings, as the first user message."""
    system = SYSTEM.format(guidance=guidance.strip() or "(none)")
    messages = [Message(role="user", content=[TextBlock(text=request)])]
    for _ in range(max_steps):
        turn = await model.complete(system, messages, [READ_FILE, REPORT])
        messages.append(Message(role="assistant", content=turn.content or [TextBlock(text="(no answer)")]))
        if not turn.tool_uses:
            messages.append(Message(role="user", content=[TextBlock(text="Call report_findings now.")]))
            continue
        results: list[ToolResultBlock] = []
        for call in turn.tool_uses:
            report, result = await _answer(call, tree)
            if report is not None:
                return report
            results.append(result)
        messages.append(Message(role="user", content=list(results)))
    raise ModelReviewError(f"the model did not call report_findings within {max_steps} steps")


def as_findings(report: ModelReport) -> list[Finding]:
    return [
        Finding(
            rule="model",
            severity=f.severity,
            path=f.path,
            line=f.line,
            message=f.message,
            suggestion=f.suggestion,
            source="model",
        )
        for f in report.findings
    ]


async def _answer(call: ToolUseBlock, tree: SourceTree) -> tuple[ModelReport | None, ToolResultBlock]:
    try:
        if call.name == "report_findings":
            return ModelReport.model_validate(call.input), _result(call, "reported")
        if call.name == "read_file":
            return None, _result(call, await _read(tree, ReadFileInput.model_validate(call.input)))
    except ValidationError as e:  # told to the model, which corrects its call
        return None, _result(call, f"invalid input: {e}", error=True)
    return None, _result(call, f"unknown tool {call.name!r}", error=True)


async def _read(tree: SourceTree, req: ReadFileInput) -> str:
    text = await tree.read(req.path)
    if text is None:
        return f"{req.path}: no such text file at the head commit"
    lines = text.splitlines()
    end = min(req.end_line or len(lines), req.start_line + MAX_READ_LINES - 1, len(lines))
    shown = [f"{n:>5}  {lines[n - 1]}" for n in range(req.start_line, end + 1)]
    more = f"\n… {len(lines) - end} more lines" if end < len(lines) else ""
    return "\n".join(shown) + more if shown else f"{req.path} has {len(lines)} lines"


def _result(call: ToolUseBlock, content: str, *, error: bool = False) -> ToolResultBlock:
    return ToolResultBlock(tool_use_id=call.id, content=content, is_error=error)


def review_request(*, marker: str, title: str, description: str, diff_text: str, known: Sequence[Finding]) -> str:
    """The first user message. `marker` names the review (repo, PR, head) and starts the message."""
    diff = diff_text if len(diff_text) <= MAX_DIFF_CHARS else diff_text[:MAX_DIFF_CHARS] + "\n… (diff truncated)"
    already = "\n".join(f"- {f.path}:{f.line} [{f.rule}] {f.message}" for f in known) or "(none)"
    return (
        f"{marker}\n\n# {title}\n\n{description.strip() or '(no description)'}\n\n"
        f"## Diff\n\n```diff\n{diff}\n```\n\n## Already reported by the rules\n\n{already}\n"
    )
