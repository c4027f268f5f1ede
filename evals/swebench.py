"""`nightshift eval swebench`: SWE-bench instances (the public dataset's JSONL) run as sessions; predictions out.

Each instance's repository is cloned from a mirror (`{mirror}/{repo}.git`; https://github.com by default, a local
folder of bare repos in tests) into a private bare repo, so the session's push stays on this machine. The
prediction is the diff from base_commit to what the session pushed, in the format the official `swebench` harness
grades: {"instance_id", "model_name_or_path", "model_patch"} per line."""

import asyncio
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from control_plane.runtime import Runtime
from evals.repos import bare_from_url, diff
from evals.runner import start_session, wait_or_cancel
from harness.errors import ConfigError

DEFAULT_MIRROR = "https://github.com"
PROMPT = """Resolve this issue in the repository (it is checked out at {base_commit}).
Change the library code only; the maintainers' tests for the issue will be run against your change.

{problem_statement}
"""


class SwebenchInstance(BaseModel, extra="allow"):
    """One row of the public dataset; fields we do not use (hints_text, created_at...) are kept as given."""

    instance_id: str
    repo: str
    """owner/name on GitHub."""
    base_commit: str
    problem_statement: str
    patch: str = ""
    test_patch: str = ""
    FAIL_TO_PASS: str | list[str] = "[]"
    PASS_TO_PASS: str | list[str] = "[]"
    version: str = ""
    environment_setup_commit: str = ""


class Prediction(BaseModel):
    instance_id: str
    model_name_or_path: str
    model_patch: str


def read_instances(path: Path) -> list[SwebenchInstance]:
    if not path.is_file():
        raise ConfigError(f"no instances file at {path}")
    found = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(SwebenchInstance.model_validate_json(line))
        except ValidationError as e:
            raise ConfigError(f"{path}:{n} is not a SWE-bench instance: {e}") from e
    if not found:
        raise ConfigError(f"{path} holds no instances")
    return found


async def predict(
    rt: Runtime,
    instances: list[SwebenchInstance],
    *,
    model: str,
    mirror: str = DEFAULT_MIRROR,
    timeout_s: float = 3600.0,
    concurrency: int = 1,
    on_done: Callable[[Prediction], None] | None = None,
) -> list[Prediction]:
    """One session per instance on an in-process worker; an instance that pushed nothing predicts an empty patch."""
    slots = asyncio.Semaphore(concurrency)
    worker = rt.worker(rt.model(), concurrency=concurrency)
    work = asyncio.create_task(worker.run())

    async def one(instance: SwebenchInstance, workdir: Path) -> Prediction:
        async with slots:
            prediction = await _predict_one(rt, instance, model, mirror, timeout_s, workdir)
        if on_done is not None:
            on_done(prediction)
        return prediction

    try:
        with tempfile.TemporaryDirectory(prefix="nightshift-swebench-") as tmp:
            return list(await asyncio.gather(*(one(i, Path(tmp) / f"{n}") for n, i in enumerate(instances))))
    finally:
        worker.stop()
        await work


async def _predict_one(
    rt: Runtime, instance: SwebenchInstance, model: str, mirror: str, timeout_s: float, workdir: Path
) -> Prediction:
    url = f"{mirror.rstrip('/')}/{instance.repo}.git"
    workdir.mkdir()
    bare = await asyncio.to_thread(bare_from_url, url, instance.base_commit, workdir / "remote.git")
    prompt = PROMPT.format(base_commit=instance.base_commit, problem_statement=instance.problem_statement)
    session = await start_session(rt, bare, prompt, model=model, title=f"swebench: {instance.instance_id}")
    final, _ = await wait_or_cancel(rt, session.id, timeout_s)
    pushed = final.pushed_commit
    patch = await asyncio.to_thread(diff, bare, instance.base_commit, pushed) if pushed else ""
    return Prediction(instance_id=instance.instance_id, model_name_or_path=f"nightshift/{model}", model_patch=patch)


def write_predictions(predictions: list[Prediction], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(p.model_dump()) + "\n" for p in predictions))
