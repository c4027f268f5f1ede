"""Prompts are Jinja2 templates in harness/prompts/, rendered here and nowhere else."""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel

from harness.memory import RepoNote
from harness.skills import RepoKnowledge
from harness.subsessions import ChildInfo

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "prompts"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # prompts are plain text for a model, not HTML
)


class Capabilities(BaseModel):
    """Which optional tools the session has, so the prompt only mentions those."""

    can_note: bool = False
    can_spawn: bool = False
    max_children: int = 0
    can_screenshot: bool = False


def system_prompt(
    *,
    repo: str,
    workdir: str,
    branch: str,
    knowledge: RepoKnowledge | None = None,
    notes: list[RepoNote] | None = None,
    capabilities: Capabilities | None = None,
) -> str:
    # Only values fixed for the whole run go here: the system prompt is the cached prefix.
    knowledge = knowledge or RepoKnowledge()
    return _ENV.get_template("system.md.j2").render(
        repo=repo,
        workdir=workdir,
        branch=branch,
        skills=knowledge.skills,
        docs=knowledge.docs,
        notes=notes or [],
        **(capabilities or Capabilities()).model_dump(),
    )


def compaction_request(*, waiting_on_tools: bool) -> str:
    return _ENV.get_template("compaction.md.j2").render(waiting_on_tools=waiting_on_tools).strip()


def compacted_summary(summary: str) -> str:
    return _ENV.get_template("compacted.md.j2").render(summary=summary).strip()


def wrap_up_request(reason: str) -> str:
    return _ENV.get_template("wrap_up.md.j2").render(reason=reason).strip()


def go_on_request(*, empty: bool, reason: str = "") -> str:
    """Asks the model to go on after a reply that was empty or cut short (`reason`: why it was cut)."""
    return _ENV.get_template("go_on.md.j2").render(empty=empty, reason=reason).strip()


def child_task(*, parent_id: str, parent_title: str, task: str) -> str:
    return _ENV.get_template("child_task.md.j2").render(parent_id=parent_id, parent_title=parent_title, task=task)


def children_ended(children: list[ChildInfo]) -> str:
    return _ENV.get_template("children_ended.md.j2").render(children=children).strip()
