"""A suite is a folder of task folders; each task is a repo (files, or a URL + commit), a prompt and a hidden check.

<task>/task.toml     kind, language, timeout_s; repo_url + commit instead of repo/ for a remote repository
<task>/prompt.md     what the session is asked
<task>/repo/         the repository's files, committed at run time
<task>/hidden/       files copied into the checkout before the check (hidden tests); optional
<task>/check.sh      must exit 0 after the session: the hidden tests
<task>/keep.sh       optional: tests that were green before and must stay green
<task>/rubric.md     optional: what a model judge checks (scored apart, with its own cost)
<task>/solution.patch or solution.md   the reference solution (a patch, or the report a triage must give)
"""

import tomllib
from pathlib import Path

from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError

DEFAULT_TIMEOUT_S = 900.0


class TaskConfig(BaseModel, extra="forbid"):
    kind: str
    """What sort of work it is: bug fix, feature, refactor, triage, review comment..."""
    language: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Past this the session is cancelled and the task scored "timeout"."""
    repo_url: str | None = None
    """A remote repository instead of repo/ (cloned at run time)."""
    commit: str | None = None
    """With repo_url: the commit the session starts from."""


class Task(BaseModel):
    name: str
    folder: Path
    config: TaskConfig
    prompt: str

    @property
    def repo_dir(self) -> Path:
        return self.folder / "repo"

    @property
    def hidden_dir(self) -> Path:
        return self.folder / "hidden"

    @property
    def check_script(self) -> Path:
        return self.folder / "check.sh"

    @property
    def keep_script(self) -> Path | None:
        path = self.folder / "keep.sh"
        return path if path.exists() else None

    @property
    def rubric(self) -> str | None:
        path = self.folder / "rubric.md"
        return path.read_text() if path.exists() else None


class Suite(BaseModel):
    name: str
    folder: Path
    tasks: list[Task]


def load_task(folder: Path) -> Task:
    toml = folder / "task.toml"
    for needed in (toml, folder / "prompt.md", folder / "check.sh"):
        if not needed.is_file():
            raise ConfigError(f"task {folder.name}: {needed.name} is missing")
    try:
        config = TaskConfig.model_validate(tomllib.loads(toml.read_text()))
    except (tomllib.TOMLDecodeError, ValidationError) as e:
        raise ConfigError(f"task {folder.name}: bad task.toml: {e}") from e
    if (config.repo_url is None) == (not (folder / "repo").is_dir()):
        raise ConfigError(f"task {folder.name}: give either a repo/ folder or repo_url in task.toml, not both")
    if config.repo_url is not None and config.commit is None:
        raise ConfigError(f"task {folder.name}: repo_url needs a commit")
    return Task(name=folder.name, folder=folder, config=config, prompt=(folder / "prompt.md").read_text())


def load_suite(path: Path) -> Suite:
    if not path.is_dir():
        raise ConfigError(f"no suite folder at {path}")
    tasks = [load_task(p) for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith(("_", "."))]
    if not tasks:
        raise ConfigError(f"suite {path} has no tasks")
    return Suite(name=path.name, folder=path, tasks=tasks)


BUILTIN_SUITES = Path(__file__).parent / "suites"


def find_suite(name_or_path: str) -> Suite:
    """A path to a suite folder, or the name of one shipped with Nightshift (evals/suites/NAME)."""
    path = Path(name_or_path)
    if not path.is_dir() and (BUILTIN_SUITES / name_or_path).is_dir():
        path = BUILTIN_SUITES / name_or_path
    return load_suite(path)
