"""`nightshift eval run`: every task of a suite as a real session (create_session, a worker, the sandbox), then scored.

Each task gets a bare repository of its own on this machine; the session clones it, works, and pushes its branch
back; the check runs in a fresh checkout of that branch. A task past its timeout is cancelled (its work is pushed
as a checkpoint, as any cancel does) and scored "timeout" without a check."""

import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from control_plane.cancel import cancel_session
from control_plane.models import NewSession, Session
from control_plane.runtime import Runtime
from control_plane.sessions import create_session
from evals.checks import check_sandboxes, run_check
from evals.judge import judge
from evals.repos import bare_from_files, bare_from_url, checkout, diff
from evals.results import EvalRun, Outcome, TaskResult
from evals.suite import Suite, Task
from harness.errors import NightshiftError
from harness.events import TERMINAL_STATUSES
from harness.model import Model
from harness.sandboxes.local import LocalSandboxProvider

POLL_S = 0.05
OnDone = Callable[[TaskResult], None]


def new_run_id(suite: str, model: str, now: float) -> str:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M%S")
    return f"{suite}-{model.replace(':', '_').replace('/', '_')}-{stamp}"


async def run_suite(
    rt: Runtime,
    suite: Suite,
    *,
    model: str,
    concurrency: int = 1,
    run_id: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_done: OnDone | None = None,
    judge_model: Model | None = None,
) -> EvalRun:
    """Run every task on one in-process worker (`concurrency` sessions at once); results in the suite's order.
    With a judge_model, tasks that have a rubric are also judged (apart from the pass/fail score)."""
    started_at = time.time()
    slots = asyncio.Semaphore(concurrency)
    worker = rt.worker(rt.model(), concurrency=concurrency)
    work = asyncio.create_task(worker.run())

    async def one(task: Task, workdir: Path, checks: LocalSandboxProvider) -> TaskResult:
        async with slots:
            try:
                result = await run_task(rt, task, model=model, workdir=workdir / task.name, clock=clock, checks=checks)
            except NightshiftError as e:  # this task could not be run or scored; the others go on
                result = TaskResult.failed_to_run(task.name, str(e))
            if judge_model is not None and task.rubric is not None and result.check is not None:
                result = await _judged(judge_model, task.rubric, result, workdir / task.name / "remote.git")
        if on_done is not None:
            on_done(result)
        return result

    try:
        with tempfile.TemporaryDirectory(prefix="nightshift-eval-") as tmp:
            sandboxes = check_sandboxes(Path(tmp) / "checks")
            for task in suite.tasks:
                (Path(tmp) / task.name).mkdir()
            results = await asyncio.gather(*(one(task, Path(tmp), sandboxes) for task in suite.tasks))
    finally:
        worker.stop()
        await work
    run_id = run_id or new_run_id(suite.name, model, started_at)
    return EvalRun(run_id=run_id, suite=suite.name, model=model, started_at=started_at, tasks=list(results))


async def _judged(judge_model: Model, rubric: str, result: TaskResult, bare: Path) -> TaskResult:
    pushed = result.pushed_commit
    patch = await asyncio.to_thread(diff, bare, "main", pushed) if pushed else ""
    verdict = await judge(judge_model, rubric=rubric, diff=patch, summary=result.summary)
    return result.model_copy(update={"judge": verdict})


def task_repo(task: Task, workdir: Path) -> Path:
    dest = workdir / "remote.git"
    if task.config.repo_url is not None:
        assert task.config.commit is not None  # load_task checked it
        return bare_from_url(task.config.repo_url, task.config.commit, dest)
    return bare_from_files(task.repo_dir, dest)


async def run_task(
    rt: Runtime, task: Task, *, model: str, workdir: Path, clock: Callable[[], float], checks: LocalSandboxProvider
) -> TaskResult:
    bare = await asyncio.to_thread(task_repo, task, workdir)
    started = clock()
    session = await start_session(rt, bare, task.prompt, model=model, title=f"eval: {task.name}")
    final, timed_out = await wait_or_cancel(rt, session.id, task.config.timeout_s)
    duration_s = clock() - started
    outcome: Outcome = "timeout"
    check = None
    if not timed_out:
        ref = final.branch if final.pushed_commit else "main"
        copy = await asyncio.to_thread(checkout, bare, ref, workdir / "checkout")
        check = await run_check(task, copy, final.summary, checks)
        outcome = "pass" if check.passed else "fail"
    return TaskResult(
        task=task.name,
        outcome=outcome,
        session_id=final.id,
        status=final.status,
        steps=final.steps,
        input_tokens=final.input_tokens,
        output_tokens=final.output_tokens,
        cost_usd=final.cost_usd,
        duration_s=duration_s,
        check=check,
        error=final.error,
        summary=final.summary,
        pushed_commit=final.pushed_commit,
    )


async def start_session(rt: Runtime, repo: Path, prompt: str, *, model: str, title: str) -> Session:
    req = NewSession(repo=str(repo), prompt=prompt, requested_by="eval", source="cli", title=title, model=model)
    return await create_session(rt.store, req, max_prompt_bytes=rt.settings.max_prompt_bytes)


async def wait_or_cancel(rt: Runtime, session_id: str, timeout_s: float) -> tuple[Session, bool]:
    """The session once it has ended, and whether it had to be cancelled for running past timeout_s."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _ended(rt, session_id), False
    except TimeoutError:
        await cancel_session(rt.store, session_id)
        return await _ended(rt, session_id), True


async def _ended(rt: Runtime, session_id: str) -> Session:
    while (session := await rt.store.get(session_id)).status not in TERMINAL_STATUSES:
        await asyncio.sleep(POLL_S)
    return session
