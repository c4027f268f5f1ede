"""`nightshift eval run` and `compare` end to end: a tiny suite of three tasks run as real sessions (Redis, the local
sandbox, git pushes, a worker) against the scripted model, which solves one, fails one and runs past one's timeout."""

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console
from spine import SECRET

from control_plane.cli import main
from control_plane.runtime import Runtime
from evals import results
from evals.compare import compare
from evals.report import compare_headline, compare_table, run_table
from evals.runner import run_suite
from evals.suite import load_suite
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, ScriptedUsage, text, tool_use

TINY = Path(__file__).parent.parent / "fixtures" / "evals" / "tiny"
USAGE = ScriptedUsage(input_tokens=1000, output_tokens=100, cache_creation_input_tokens=0, cache_read_input_tokens=0)


def reply(*content: object) -> Reply:
    return Reply(*content, usage=USAGE)  # type: ignore[arg-type]


def solve(old: str, new: str) -> list[Reply]:
    edit = tool_use("edit_file", {"path": "calc.py", "old_text": old, "new_text": new})
    return [reply(text("Fixing."), edit), reply(tool_use("finish", {"summary": "fixed"}))]


def give_up() -> list[Reply]:
    return [reply(tool_use("finish", {"summary": "could not find the bug"}))]


def hang() -> list[Reply]:
    return [reply(tool_use("shell", {"command": "sleep 100"}))]


def scripts() -> list[Script]:
    """Run A solves fix-add and fails fix-mul; run B the other way round; both run past slow's 3 s timeout."""
    return [
        Script([*solve("a - b", "a + b"), *give_up()], key="[eval:fix-add]"),
        Script([*give_up(), *solve("a + b", "a * b")], key="[eval:fix-mul]"),
        Script([*hang(), *hang()], key="[eval:slow]"),
    ]


def ticking(*times: float) -> Iterator[float]:
    """The clock the runner reads at each task's start and end: durations known in advance."""
    return iter(times)


def render(*items: object) -> str:
    console = Console(file=io.StringIO(), width=100, record=True, highlight=False)
    for item in items:
        console.print(item)
    return console.export_text()


async def test_a_suite_is_run_scored_and_compared(rt: Runtime, standin: AnthropicStandIn, tmp_path: Path) -> None:
    for script in scripts():
        standin.register(script)
    suite = load_suite(TINY)
    clock_a = ticking(0.0, 3.0, 10.0, 14.5, 20.0, 26.0)
    a = await run_suite(rt, suite, model="claude-sonnet-4-6", run_id="run-a", clock=clock_a.__next__)
    clock_b = ticking(0.0, 2.0, 5.0, 7.0, 9.0, 12.0)
    b = await run_suite(rt, suite, model="claude-haiku-4-5", run_id="run-b", clock=clock_b.__next__)
    standin.assert_all_consumed()

    assert [(t.task, t.outcome, t.status, t.steps, t.tokens, t.cost_usd) for t in a.tasks] == [
        ("fix-add", "pass", "finished", 2, 2200, 0.009),
        ("fix-mul", "fail", "finished", 1, 1100, 0.0045),
        ("slow", "timeout", "cancelled", 1, 1100, 0.0045),
    ]
    assert [(t.task, t.outcome, t.status, t.steps, t.tokens, t.cost_usd) for t in b.tasks] == [
        ("fix-add", "fail", "finished", 1, 1100, 0.0015),
        ("fix-mul", "pass", "finished", 2, 2200, 0.003),
        ("slow", "timeout", "cancelled", 1, 1100, 0.0015),
    ]
    fix_mul = a.tasks[1].check
    assert fix_mul is not None and fix_mul.kept is not None and fix_mul.kept.passed  # keep.sh: still importable
    assert not fix_mul.hidden.passed and "AssertionError: 5 != 6" in fix_mul.hidden.output
    assert a.tasks[2].check is None  # a task that timed out is not scored

    assert lines(render(run_table(a))) == RUN_A
    c = compare(a, b)
    assert (c.better, c.worse, c.same) == (["fix-mul"], ["fix-add"], ["slow"])
    assert lines(render(compare_table(a, b, c), compare_headline(c))) == COMPARE

    data_dir = tmp_path / "data"
    results.save(a, data_dir), results.save(b, data_dir)
    assert results.load(data_dir, "run-a") == a
    shown = CliRunner().invoke(main, ["eval", "compare", "run-a", "run-b"], env=cli_env(data_dir))
    assert shown.exit_code == 0, shown.output
    assert lines(shown.output) == COMPARE


def test_compare_names_a_missing_run(tmp_path: Path) -> None:
    shown = CliRunner().invoke(main, ["eval", "compare", "run-a", "nope"], env=cli_env(tmp_path))
    assert shown.exit_code == 2
    assert "no eval run 'run-a'" in shown.output


def cli_env(data_dir: Path) -> dict[str, str]:
    return {"NIGHTSHIFT_DATA_DIR": str(data_dir), "COLUMNS": "100"}


def lines(shown: str) -> list[str]:
    return [line.strip() for line in shown.strip().splitlines()]  # the title is centred, or not, by terminal


RUN_A = lines("""\
                 tiny · claude-sonnet-4-6
┏━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━┳━━━━━━━━━┳━━━━━━━┓
┃ task    ┃ result     ┃ steps ┃ tokens ┃ cost    ┃ time  ┃
┡━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━╇━━━━━━━━━╇━━━━━━━┩
│ fix-add │ pass       │ 2     │ 2,200  │ $0.0090 │ 3.0s  │
│ fix-mul │ fail       │ 1     │ 1,100  │ $0.0045 │ 4.5s  │
│ slow    │ timeout    │ 1     │ 1,100  │ $0.0045 │ 6.0s  │
├─────────┼────────────┼───────┼────────┼─────────┼───────┤
│ total   │ 1/3 passed │ 4     │ 4,400  │ $0.0180 │ 13.5s │
└─────────┴────────────┴───────┴────────┴─────────┴───────┘""")

COMPARE = lines("""\
                         A run-a  vs  B run-b
┏━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┓
┃ task      ┃ A       ┃ B       ┃ A cost  ┃ B cost  ┃ A time ┃ B time ┃
┡━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━┩
│ fix-add ↓ │ pass    │ fail    │ $0.0090 │ $0.0015 │ 3.0s   │ 2.0s   │
│ fix-mul ↑ │ fail    │ pass    │ $0.0045 │ $0.0030 │ 4.5s   │ 2.0s   │
│ slow      │ timeout │ timeout │ $0.0045 │ $0.0015 │ 6.0s   │ 3.0s   │
├───────────┼─────────┼─────────┼─────────┼─────────┼────────┼────────┤
│ total     │ 1/3     │ 1/3     │ $0.0180 │ $0.0060 │ 13.5s  │ 7.0s   │
└───────────┴─────────┴─────────┴─────────┴─────────┴────────┴────────┘
1 better, 1 worse, 1 unchanged
better: fix-mul
worse: fix-add""")


def test_the_cli_runs_a_suite_judges_it_and_saves_the_run(
    redis_url: str, standin: AnthropicStandIn, tmp_path: Path
) -> None:
    suite = tmp_path / "one"
    shutil.copytree(TINY / "fix-add", suite / "fix-add")
    (suite / "fix-add" / "rubric.md").write_text("[judge:fix-add] add adds; nothing else changes\n")
    standin.register(Script(solve("a - b", "a + b"), key="[eval:fix-add]"))
    verdict = tool_use("verdict", {"passed": True, "reason": "one-line fix"})
    judged = Script([reply(verdict)], key="[judge:fix-add]")
    standin.register(judged)
    env = {**cli_env(tmp_path / "data"), "REDIS_URL": redis_url, "ANTHROPIC_API_KEY": SECRET}
    env["ANTHROPIC_BASE_URL"] = standin.base_url
    args = ["eval", "run", str(suite), "--model", "claude-sonnet-4-6", "--judge", "claude-haiku-4-5"]
    shown = CliRunner().invoke(main, args, env=env)
    assert shown.exit_code == 0, shown.output
    [saved] = (tmp_path / "data" / "evals").glob("one-claude-sonnet-4-6-*.json")
    run = results.load(tmp_path / "data", str(saved))
    assert [(t.task, t.outcome, t.steps) for t in run.tasks] == [("fix-add", "pass", 2)]
    assert "│ fix-add │ pass       │ 2     │ 2,200  │ $0.0090 │" in shown.output
    assert f"saved {saved}" in shown.output
    # The judge saw the pushed diff, and its cost is reported on its own.
    assert "-    return a - b\n+    return a + b" in judged.requests[0].user_text()
    assert run.tasks[0].judge is not None and run.tasks[0].judge.reason == "one-line fix"
    assert "judge: 1/1 rubrics met · judge cost $0.0015 (not in the totals)" in shown.output
    assert "│ total   │ 1/1 passed │ 2     │ 2,200  │ $0.0090 │" in shown.output


def test_a_bad_suite_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "suite" / "broken").mkdir(parents=True)
    shown = CliRunner().invoke(main, ["eval", "run", str(tmp_path / "suite"), "--model", "x"], env=cli_env(tmp_path))
    assert shown.exit_code == 2
    assert "task broken: task.toml is missing" in shown.output


async def test_a_task_that_cannot_be_run_is_an_error_and_the_others_go_on(
    rt: Runtime, standin: AnthropicStandIn, tmp_path: Path
) -> None:
    suite = tmp_path / "suite"
    shutil.copytree(TINY / "fix-add", suite / "fix-add")
    standin.register(Script(solve("a - b", "a + b"), key="[eval:fix-add]"))
    shutil.copytree(TINY / "fix-add", suite / "gone")
    shutil.rmtree(suite / "gone" / "repo")
    (suite / "gone" / "task.toml").write_text(
        f'kind = "bug fix"\nlanguage = "python"\nrepo_url = "{tmp_path}/nope.git"\ncommit = "abc"\n'
    )
    run = await run_suite(rt, load_suite(suite), model="claude-sonnet-4-6", run_id="r", concurrency=2)
    fixed, result = run.tasks
    assert (fixed.task, fixed.outcome) == ("fix-add", "pass")
    assert (result.task, result.outcome, result.session_id) == ("gone", "error", "")
    assert result.error.startswith(f"git clone -q --bare {tmp_path}/nope.git")


def test_a_bad_model_choice_is_a_usage_error(tmp_path: Path) -> None:
    shown = CliRunner().invoke(main, ["eval", "run", "starter", "--model", "gpt 4"], env=cli_env(tmp_path))
    assert shown.exit_code == 2
    assert "model 'gpt 4': expected `anthropic:NAME`" in shown.output
    assert not (tmp_path / "evals").exists()
