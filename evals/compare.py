"""`nightshift eval compare`: per-task differences between two runs, not only the averages. Pure."""

from pydantic import BaseModel

from evals.results import RANK, EvalRun, Outcome


class TaskChange(BaseModel):
    task: str
    a: Outcome | None
    """None: the task was not in run A."""
    b: Outcome | None
    a_cost_usd: float | None
    b_cost_usd: float | None
    a_duration_s: float | None
    b_duration_s: float | None


class Comparison(BaseModel):
    rows: list[TaskChange]
    better: list[str]
    """Tasks whose outcome ranks higher in B than in A."""
    worse: list[str]
    same: list[str]
    only_a: list[str]
    only_b: list[str]

    def headline(self) -> str:
        parts = [f"{len(self.better)} better", f"{len(self.worse)} worse", f"{len(self.same)} unchanged"]
        parts += [f"{len(self.only_a)} only in A"] if self.only_a else []
        parts += [f"{len(self.only_b)} only in B"] if self.only_b else []
        return ", ".join(parts)


def compare(a: EvalRun, b: EvalRun) -> Comparison:
    in_a = {t.task: t for t in a.tasks}
    in_b = {t.task: t for t in b.tasks}
    names = [t.task for t in a.tasks] + [t.task for t in b.tasks if t.task not in in_a]
    rows, better, worse, same = [], [], [], []
    for name in names:
        ta, tb = in_a.get(name), in_b.get(name)
        rows.append(
            TaskChange(
                task=name,
                a=ta.outcome if ta else None,
                b=tb.outcome if tb else None,
                a_cost_usd=ta.cost_usd if ta else None,
                b_cost_usd=tb.cost_usd if tb else None,
                a_duration_s=ta.duration_s if ta else None,
                b_duration_s=tb.duration_s if tb else None,
            )
        )
        if ta and tb:
            delta = RANK[tb.outcome] - RANK[ta.outcome]
            (better if delta > 0 else worse if delta < 0 else same).append(name)
    only_a = [n for n in in_a if n not in in_b]
    only_b = [n for n in in_b if n not in in_a]
    return Comparison(rows=rows, better=better, worse=worse, same=same, only_a=only_a, only_b=only_b)
