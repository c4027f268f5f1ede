"""What an eval run produced: one TaskResult per task, kept as JSON under the data dir (evals/<run-id>.json)."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from evals.checks import CheckResult
from harness.errors import ConfigError

Outcome = Literal["pass", "fail", "timeout", "error"]
RANK: dict[Outcome, int] = {"pass": 2, "fail": 1, "timeout": 0, "error": 0}
"""For comparing runs: a pass beats a fail beats a run that never got to be scored."""


class JudgeVerdict(BaseModel):
    passed: bool
    reason: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    """Kept apart from the session's own cost."""


class TaskResult(BaseModel):
    task: str
    outcome: Outcome
    session_id: str
    status: str
    """The session's final status (finished, failed, cancelled...)."""
    steps: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    duration_s: float
    check: CheckResult | None = None
    """None when the task timed out or could not be scored."""
    judge: JudgeVerdict | None = None
    error: str = ""
    summary: str = ""
    """The session's final report."""
    pushed_commit: str = ""

    @classmethod
    def failed_to_run(cls, task: str, error: str) -> "TaskResult":
        return cls(
            task=task,
            outcome="error",
            session_id="",
            status="",
            steps=0,
            input_tokens=0,
            output_tokens=0,
            cost_usd=0.0,
            duration_s=0.0,
            error=error,
        )

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class EvalRun(BaseModel):
    run_id: str
    suite: str
    model: str
    started_at: float
    tasks: list[TaskResult]

    @property
    def passed(self) -> int:
        return sum(t.outcome == "pass" for t in self.tasks)

    @property
    def cost_usd(self) -> float:
        return sum(t.cost_usd for t in self.tasks)

    @property
    def judge_cost_usd(self) -> float:
        return sum(t.judge.cost_usd for t in self.tasks if t.judge)

    @property
    def duration_s(self) -> float:
        return sum(t.duration_s for t in self.tasks)


def runs_dir(data_dir: Path) -> Path:
    return data_dir / "evals"


def save(run: EvalRun, data_dir: Path) -> Path:
    path = runs_dir(data_dir) / f"{run.run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.model_dump_json(indent=2))
    return path


def load(data_dir: Path, run_id_or_path: str) -> EvalRun:
    """A run by its id (under the data dir) or by the path of its JSON file."""
    path = Path(run_id_or_path)
    if not path.is_file():
        path = runs_dir(data_dir) / f"{run_id_or_path}.json"
    if not path.is_file():
        raise ConfigError(f"no eval run {run_id_or_path!r} (looked in {runs_dir(data_dir)})")
    try:
        return EvalRun.model_validate_json(path.read_text())
    except ValidationError as e:
        raise ConfigError(f"{path} is not an eval run: {e}") from e
