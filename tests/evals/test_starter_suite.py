"""The starter suite is sound: every task's check fails on the untouched repository and passes with the reference
solution kept beside it (solution.patch applied, or solution.md as the session's report)."""

import subprocess
from pathlib import Path

import pytest

from evals.checks import check_sandboxes, run_check
from evals.repos import bare_from_files, checkout
from evals.suite import BUILTIN_SUITES, Task, find_suite

STARTER = find_suite("starter")


def test_the_starter_suite_is_varied() -> None:
    assert len(STARTER.tasks) >= 12
    assert {t.config.language for t in STARTER.tasks} == {"python", "javascript"}
    kinds = {t.config.kind for t in STARTER.tasks}
    assert {"bug fix", "small feature", "refactor", "alert triage", "review comment"} <= kinds
    assert STARTER.folder == BUILTIN_SUITES / "starter"


@pytest.mark.parametrize("task", STARTER.tasks, ids=[t.name for t in STARTER.tasks])
async def test_check_fails_untouched_and_passes_with_the_reference_solution(task: Task, tmp_path: Path) -> None:
    bare = bare_from_files(task.repo_dir, tmp_path / "remote.git")

    sandboxes = check_sandboxes(tmp_path / "checks")
    untouched = await run_check(task, checkout(bare, "main", tmp_path / "untouched"), "", sandboxes)
    assert not untouched.passed, "the check passes without any work: it measures nothing"

    solved = checkout(bare, "main", tmp_path / "solved")
    patch = task.folder / "solution.patch"
    if patch.exists():
        subprocess.run(["git", "apply", str(patch)], cwd=solved, check=True)
    report = task.folder / "solution.md"
    result = await run_check(task, solved, report.read_text() if report.exists() else "", sandboxes)
    assert result.hidden.passed, result.hidden.output
    assert result.kept is None or result.kept.passed, result.kept.output
