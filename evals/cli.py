"""`nightshift eval run | compare | swebench`: the eval harness from the command line."""

import os
import sys
from pathlib import Path
from typing import Literal

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from control_plane.cli_support import config_option, console, err, run_command
from control_plane.config import Settings
from control_plane.runtime import Runtime
from evals import results
from evals.compare import compare as compare_runs
from evals.report import compare_headline, compare_table, judge_line, run_table
from evals.results import EvalRun
from evals.runner import run_suite
from evals.suite import find_suite
from evals.swebench import DEFAULT_MIRROR, predict, read_instances, write_predictions
from harness.errors import ConfigError, NightshiftError
from harness.providers import ModelChoice


def _model_choice(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Checked before anything runs: a bad choice is a usage error, not a failed run."""
    try:
        if value is not None:
            ModelChoice.parse(value)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from e
    return value


model_option = click.option(
    "--model", required=True, callback=_model_choice, help="anthropic:NAME, openai:NAME or a Claude model name."
)
concurrency_option = click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True)


def _settings(config: Path | None) -> Settings:
    return Settings.load(os.environ, config)


@click.group("eval")
def eval_group() -> None:
    """Measure the agent: run suites of tasks as real sessions, compare runs, SWE-bench predictions."""


@eval_group.command("run")
@click.argument("suite")
@model_option
@config_option
@concurrency_option
@click.option(
    "--judge", "judge_model", callback=_model_choice, help="Also judge tasks that have a rubric.md, with this model."
)
def run(suite: str, model: str, config: Path | None, concurrency: int, judge_model: str | None) -> None:
    """Run every task of SUITE (a folder, or a shipped suite such as `starter`) and score it."""
    settings = _settings(config)
    finished = run_command(_run_suite(settings, suite, model, concurrency, judge_model))
    console.print(run_table(finished))
    if line := judge_line(finished):
        console.print(line)
    console.print(f"saved {results.save(finished, settings.data_dir)}")


async def _run_suite(settings: Settings, suite: str, model: str, concurrency: int, judge_model: str | None) -> EvalRun:
    loaded = find_suite(suite)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        bar = progress.add_task(f"{loaded.name} · {model}", total=len(loaded.tasks))

        def done(result: results.TaskResult) -> None:
            progress.console.print(f"{result.task}: {result.outcome}")
            progress.advance(bar)

        async with Runtime.open(settings) as rt:
            judge = rt.model_for(judge_model) if judge_model else None
            return await run_suite(rt, loaded, model=model, concurrency=concurrency, on_done=done, judge_model=judge)


@eval_group.command()
@click.argument("run_a")
@click.argument("run_b")
@config_option
def compare(run_a: str, run_b: str, config: Path | None) -> None:
    """Per-task differences between two runs (ids under the data dir, or JSON files), cost and time side by side."""
    data_dir = _settings(config).data_dir
    try:
        a, b = results.load(data_dir, run_a), results.load(data_dir, run_b)
    except NightshiftError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        sys.exit(2)
    comparison = compare_runs(a, b)
    console.print(compare_table(a, b, comparison))
    console.print(compare_headline(comparison))


@eval_group.command()
@click.option("--instances", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Dataset JSONL.")
@click.option("--provider", type=click.Choice(["modal", "local"]), default="modal", show_default=True)
@click.option("--mirror", default=DEFAULT_MIRROR, show_default=True, help="Repos are cloned from MIRROR/owner/name.git")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Predictions JSONL.")
@click.option("--timeout", "timeout_s", type=float, default=3600.0, show_default=True, help="Seconds per instance.")
@model_option
@config_option
@concurrency_option
def swebench(
    instances: Path,
    provider: Literal["modal", "local"],
    mirror: str,
    out: Path | None,
    timeout_s: float,
    model: str,
    config: Path | None,
    concurrency: int,
) -> None:
    """Run SWE-bench instances as sessions; write predictions the official `swebench` harness grades."""
    settings = _settings(config).model_copy(update={"sandbox": provider})
    path = out or settings.data_dir / "evals" / f"swebench-{instances.stem}-{model.replace(':', '_')}.jsonl"
    run_command(_swebench(settings, instances, mirror, timeout_s, model, concurrency, path))
    console.print(f"predictions: {path}")


async def _swebench(
    settings: Settings, instances: Path, mirror: str, timeout_s: float, model: str, concurrency: int, out: Path
) -> None:
    rows = read_instances(instances)
    async with Runtime.open(settings) as rt:
        predictions = await predict(
            rt,
            rows,
            model=model,
            mirror=mirror,
            timeout_s=timeout_s,
            concurrency=concurrency,
            on_done=lambda p: err.print(f"{p.instance_id}: {'patch' if p.model_patch else 'no patch'}"),
        )
    write_predictions(predictions, out)
