"""Skills and repo knowledge: what the agent is told about how to work, and about the repository it works on.

- Built-in skills are Markdown files in `skills/` at the project root; a repository adds its own in
  `.nightshift/skills/*.md` (a repo skill with a built-in's name replaces it: the repo knows better).
  Each file starts with front matter (`name`, `description`, `when_to_use`); the prompt lists them by name and
  description, and the agent loads a skill's body with the `load_skill` tool when it needs it.
- `AGENTS.md` and `CLAUDE.md` at the repository root are read into the prompt, capped in size, with a note
  saying where they were cut.

Discovery reads the repository through `RepoFiles`, so the session (its sandbox) and `nightshift skills list`
(the control plane's mirror) share this code and see the same thing.
"""

import re
import shlex
from pathlib import Path
from typing import Literal, Protocol

import yaml
from pydantic import BaseModel, Field, ValidationError

from harness.sandboxes import Sandbox

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "skills"
"""The project's own skills/ directory (an editable install, as install.sh makes, keeps it next to harness/)."""
REPO_SKILLS_DIR = ".nightshift/skills"
KNOWLEDGE_FILES = ("AGENTS.md", "CLAUDE.md")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


class KnowledgeLimits(BaseModel):
    repo_doc_limit_bytes: int = 24_000
    """AGENTS.md and CLAUDE.md together; the rest is cut, and the prompt says so."""
    skill_limit_bytes: int = 40_000
    """One skill file; a larger one is refused (listed as a problem)."""
    max_repo_skills: int = 40


class SkillMeta(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str = Field(min_length=1, max_length=300)
    when_to_use: str = Field("", max_length=500)


class Skill(SkillMeta):
    body: str
    source: Literal["builtin", "repo"]
    path: str
    """Where it was read from: a path in the project (built-in) or in the repository."""


class RepoDoc(BaseModel):
    path: str
    text: str
    """As shown to the agent: cut to the limit, with a note saying so."""
    size_bytes: int
    cut: bool


class RepoKnowledge(BaseModel):
    """What a session on a repository is told, before it reads any code."""

    skills: list[Skill] = []
    docs: list[RepoDoc] = []
    problems: list[str] = []
    """Files that could not be used (bad front matter, too large); shown by `nightshift skills list`."""

    def skill_map(self) -> dict[str, Skill]:
        return {s.name: s for s in self.skills}


class RepoFiles(Protocol):
    """Read-only access to a repository's files, relative to its root."""

    async def read(self, path: str) -> bytes | None:
        """The file's content, or None when there is no such file."""
        ...

    async def list_dir(self, path: str) -> list[str]:
        """Names of the files directly in `path`; empty when there is no such directory."""
        ...


class SkillError(ValueError):
    """A skill file that cannot be used; the message says why."""


def parse_skill(text: str, *, source: Literal["builtin", "repo"], path: str) -> Skill:
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise SkillError(f"{path}: no front matter (a `---` block with name, description, when_to_use)")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as e:
        raise SkillError(f"{path}: front matter is not valid YAML: {e}") from e
    if not isinstance(meta, dict):
        raise SkillError(f"{path}: front matter must be a mapping of name, description, when_to_use")
    try:
        checked = SkillMeta.model_validate({k.replace("-", "_"): v for k, v in meta.items() if isinstance(k, str)})
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise SkillError(f"{path}: {problems}") from e
    body = text[match.end() :].strip()
    return Skill(**checked.model_dump(), body=body, source=source, path=path)


def builtin_skills(directory: Path = BUILTIN_DIR) -> list[Skill]:
    """The project's own skills. A broken built-in is our bug, so it raises rather than being skipped."""
    return [
        parse_skill(p.read_text(), source="builtin", path=f"skills/{p.name}") for p in sorted(directory.glob("*.md"))
    ]


async def repo_knowledge(files: RepoFiles, builtins: list[Skill], limits: KnowledgeLimits) -> RepoKnowledge:
    knowledge = RepoKnowledge(docs=await _docs(files, limits.repo_doc_limit_bytes))
    repo_skills = await _repo_skills(files, limits, knowledge.problems)
    overridden = {s.name for s in repo_skills}
    knowledge.skills = [s for s in builtins if s.name not in overridden] + repo_skills
    return knowledge


async def _docs(files: RepoFiles, limit_bytes: int) -> list[RepoDoc]:
    docs: list[RepoDoc] = []
    seen: set[bytes] = set()
    room = limit_bytes
    for path in KNOWLEDGE_FILES:
        data = await files.read(path)
        if data is None or data in seen:  # CLAUDE.md is often a copy of (or a link to) AGENTS.md
            continue
        seen.add(data)
        docs.append(cap_doc(path, data, room))
        room = max(room - len(data), 0)
    return docs


def cap_doc(path: str, data: bytes, limit_bytes: int) -> RepoDoc:
    text = data.decode("utf-8", errors="replace")
    if len(data) <= limit_bytes:
        return RepoDoc(path=path, text=text, size_bytes=len(data), cut=False)
    kept = data[:limit_bytes].decode("utf-8", errors="ignore")
    kept = kept[: kept.rfind("\n") + 1] or kept  # cut at a line end when there is one
    note = (
        f"[... {path} is cut here: {len(kept.encode()):,} of {len(data):,} bytes shown. "
        f"Read the rest with read_file {path} when it matters.]"
    )
    return RepoDoc(path=path, text=f"{kept}\n{note}", size_bytes=len(data), cut=True)


async def _repo_skills(files: RepoFiles, limits: KnowledgeLimits, problems: list[str]) -> list[Skill]:
    names = sorted(n for n in await files.list_dir(REPO_SKILLS_DIR) if n.endswith(".md"))
    if len(names) > limits.max_repo_skills:
        problems.append(f"{REPO_SKILLS_DIR}: {len(names)} skills, only the first {limits.max_repo_skills} are used")
        names = names[: limits.max_repo_skills]
    skills: list[Skill] = []
    for name in names:
        path = f"{REPO_SKILLS_DIR}/{name}"
        data = await files.read(path)
        if data is None:
            continue  # listed but gone (a dangling link): nothing to use
        if len(data) > limits.skill_limit_bytes:
            problems.append(f"{path}: {len(data):,} bytes, over the {limits.skill_limit_bytes:,}-byte limit")
            continue
        try:
            skill = parse_skill(data.decode("utf-8", errors="replace"), source="repo", path=path)
        except SkillError as e:
            problems.append(str(e))
            continue
        if skill.name in {s.name for s in skills}:
            problems.append(f"{path}: a skill named {skill.name!r} is already defined")
            continue
        skills.append(skill)
    return skills


class SandboxFiles:
    """RepoFiles over a session's sandbox: the checkout the agent works on, as it is now."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def read(self, path: str) -> bytes | None:
        probe = await self.sandbox.exec(f"test -f {shlex.quote(path)}", timeout_s=30)
        if probe.exit_code != 0:
            return None
        return await self.sandbox.read_file(path)

    async def list_dir(self, path: str) -> list[str]:
        listing = await self.sandbox.exec(
            f"find {shlex.quote(path)} -mindepth 1 -maxdepth 1 \\( -type f -o -type l \\) -printf '%f\\n'",
            timeout_s=30,
        )
        return listing.output.splitlines() if listing.exit_code == 0 else []
