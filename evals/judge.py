"""The optional model judge: reads a task's rubric, the session's diff and its report, and gives a verdict through a
typed tool call. Its tokens and cost are its own, never added to the session's."""

from pydantic import BaseModel, ValidationError

from evals.results import JudgeVerdict
from harness.messages import Message, TextBlock, ToolSpec, ToolUseBlock
from harness.model import Model

MAX_DIFF_CHARS = 60_000
SYSTEM = (
    "You grade the work of a coding agent against a rubric. Read the rubric, the diff the agent pushed and its "
    "final report, then call `verdict` once: passed only if every point of the rubric is met."
)
VERDICT = ToolSpec(
    name="verdict",
    description="Your verdict on the work.",
    input_schema={
        "type": "object",
        "properties": {
            "passed": {"type": "boolean", "description": "Every point of the rubric is met."},
            "reason": {"type": "string", "description": "One or two sentences: which points are (not) met."},
        },
        "required": ["passed", "reason"],
    },
)


class _Verdict(BaseModel):
    passed: bool
    reason: str


async def judge(model: Model, *, rubric: str, diff: str, summary: str) -> JudgeVerdict:
    shown = diff if len(diff) <= MAX_DIFF_CHARS else diff[:MAX_DIFF_CHARS] + "\n[diff cut]"
    text = f"## Rubric\n{rubric}\n\n## Diff\n```diff\n{shown}```\n\n## The agent's report\n{summary or '(none)'}"
    turn = await model.complete(SYSTEM, [Message(role="user", content=[TextBlock(text=text)])], [VERDICT])
    passed, reason = _read(turn.tool_uses)
    return JudgeVerdict(
        passed=passed,
        reason=reason,
        input_tokens=turn.usage.input_tokens,
        output_tokens=turn.usage.output_tokens,
        cost_usd=turn.cost_usd,
    )


def _read(calls: list[ToolUseBlock]) -> tuple[bool, str]:
    """A judge that gives no verdict, or a malformed one, fails the rubric and says so."""
    found = [c for c in calls if c.name == VERDICT.name]
    if not found:
        return False, "judge gave no verdict"
    try:
        verdict = _Verdict.model_validate(found[0].input)
    except ValidationError as e:
        return False, f"judge gave a malformed verdict: {e}"
    return verdict.passed, verdict.reason
