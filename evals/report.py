"""The tables `nightshift eval run` and `nightshift eval compare` print. Pure: runs in, rich Tables out."""

from rich.table import Table

from evals.compare import Comparison
from evals.results import EvalRun


def money(usd: float | None) -> str:
    return "-" if usd is None else f"${usd:.4f}"


def seconds(s: float | None) -> str:
    return "-" if s is None else f"{s:.1f}s"


def run_table(run: EvalRun) -> Table:
    table = Table("task", "result", "steps", "tokens", "cost", "time", title=f"{run.suite} · {run.model}")
    for t in run.tasks:
        table.add_row(t.task, t.outcome, str(t.steps), f"{t.tokens:,}", money(t.cost_usd), seconds(t.duration_s))
    table.add_section()
    table.add_row(
        "total",
        f"{run.passed}/{len(run.tasks)} passed",
        str(sum(t.steps for t in run.tasks)),
        f"{sum(t.tokens for t in run.tasks):,}",
        money(run.cost_usd),
        seconds(run.duration_s),
    )
    return table


def judge_line(run: EvalRun) -> str | None:
    judged = [t for t in run.tasks if t.judge]
    if not judged:
        return None
    passed = sum(t.judge.passed for t in judged if t.judge)
    return f"judge: {passed}/{len(judged)} rubrics met · judge cost {money(run.judge_cost_usd)} (not in the totals)"


def compare_table(a: EvalRun, b: EvalRun, c: Comparison) -> Table:
    table = Table("task", "A", "B", "A cost", "B cost", "A time", "B time", title=f"A {a.run_id}  vs  B {b.run_id}")
    for r in c.rows:
        mark = " ↑" if r.task in c.better else " ↓" if r.task in c.worse else ""
        table.add_row(
            r.task + mark,
            r.a or "-",
            r.b or "-",
            money(r.a_cost_usd),
            money(r.b_cost_usd),
            seconds(r.a_duration_s),
            seconds(r.b_duration_s),
        )
    table.add_section()
    table.add_row(
        "total",
        f"{a.passed}/{len(a.tasks)}",
        f"{b.passed}/{len(b.tasks)}",
        money(a.cost_usd),
        money(b.cost_usd),
        seconds(a.duration_s),
        seconds(b.duration_s),
    )
    return table


def compare_headline(c: Comparison) -> str:
    lines = [c.headline()]
    lines += [f"better: {', '.join(c.better)}"] if c.better else []
    lines += [f"worse: {', '.join(c.worse)}"] if c.worse else []
    return "\n".join(lines)
