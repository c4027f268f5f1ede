"""Prompts are Jinja2 templates in harness/prompts/, rendered here and nowhere else."""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "prompts"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # prompts are plain text for a model, not HTML
)


def system_prompt(*, repo: str, workdir: str, branch: str) -> str:
    # Only values fixed for the whole session go here: the system prompt is the cached prefix.
    return _ENV.get_template("system.md.j2").render(repo=repo, workdir=workdir, branch=branch)
