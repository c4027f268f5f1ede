"""The session record and the requests that create and steer sessions."""

import json
import re
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from harness.errors import ConfigError
from harness.events import SessionStatus
from harness.providers import ModelChoice

Source = Literal["cli", "web", "api", "slack", "github", "sentry", "webhook"]


class Session(BaseModel):
    id: str
    repo: str
    """Git URL or absolute path of the repository the work is pushed to."""
    base: str | None
    """Ref or commit the work starts from; None means the repository's default branch."""
    branch: str
    """Branch the control plane pushes the work to, if control_plane/push_policy.py allows it at push time."""
    title: str
    source: Source
    requested_by: str
    status: SessionStatus
    created_at: float
    updated_at: float
    run: int = 0
    """Runs so far: one per hand-off (the first prompt, a follow-up after the agent finished)."""
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    summary: str = ""
    error: str = ""
    pushed_commit: str = ""
    inbox_seq: int = 0
    """Messages people have posted; the run cannot end while one is undelivered."""
    cancel_requested: bool = False
    parent_id: str | None = None
    origin: str | None = None
    """Where the work came from, as a key (github:owner/name#12): one origin maps to one session."""
    origin_url: str | None = None
    """Link to the origin for people: the issue, the pull request, the comment."""
    upstream: str | None = None
    """Branch the work is meant to be merged into (a PR's base); the sandbox has it as origin/<upstream>."""
    read_only: bool = False
    """The work is never pushed (e.g. a PR from a fork): the agent only answers."""
    co_authors: list[str] = []
    """`Name <email>` of the people who asked, credited in each commit with a Co-authored-by trailer."""
    pr_url: str | None = None
    """The pull request carrying the work, once one is open."""
    notified_run: int = 0
    """Last run whose end observers (PR, thread reply) were told about; lags `run` only after a crash."""
    model: str | None = None
    """The model this session asked for (`openai:NAME`...); None: its repository's, else the deployment's."""

    def to_redis(self) -> dict[str, str]:
        return {k: json.dumps(v) for k, v in self.model_dump().items()}

    @classmethod
    def from_redis(cls, fields: dict[str, str]) -> "Session":
        return cls.model_validate({k: json.loads(v) for k, v in fields.items()})


class NewSession(BaseModel):
    repo: str = Field(min_length=1, max_length=2000, description="Git URL or path on the control plane's machine.")
    prompt: str = Field(min_length=1, description="What the agent should do.")
    base: str | None = Field(None, max_length=250, description="Branch, tag or commit to start from.")
    requested_by: str = Field("api", min_length=1, max_length=200, description="Who asked.")
    source: Source = "api"
    title: str | None = Field(None, max_length=200, description="Default: the prompt's first line.")
    branch: str | None = Field(
        None,
        max_length=250,
        description="The head branch of the pull request `origin` names, to push to (re-checked with GitHub at push "
        "time; any other branch is refused then). Default: a new nightshift/<slug>-<session id> branch.",
    )
    upstream: str | None = Field(None, max_length=250, description="Branch the work is to be merged into.")
    origin: str | None = Field(None, max_length=500, description="Origin key; one origin maps to one session.")
    origin_url: str | None = Field(None, max_length=2000)
    read_only: bool = Field(False, description="Never push the work; the agent only answers.")
    co_authors: list[str] = Field([], max_length=10, description="`Name <email>` credited as co-authors.")
    model: str | None = Field(
        None,
        max_length=250,
        description="`anthropic:NAME`, `openai:NAME` (the OpenAI-compatible endpoint) or a Claude model name. "
        "Default: the repository's choice, else the deployment's.",
    )

    @field_validator("model")
    @classmethod
    def _model_choice(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ModelChoice.parse(v)
            except ConfigError as e:
                raise ValueError(str(e)) from e
        return v

    @field_validator("base", "branch", "upstream")
    @classmethod
    def _ref_shape(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9._/@+-]+", v):
            raise ValueError(f"{info.field_name} must be a branch, tag or commit name")
        return v

    @field_validator("co_authors")
    @classmethod
    def _trailer_shape(cls, v: list[str]) -> list[str]:
        # Each becomes a commit trailer line: one line, "Name <email>".
        if any(not re.fullmatch(r"[^\n<>]{1,100} <[^\s<>@]+@[^\s<>@]+>", a) for a in v):
            raise ValueError("co-authors must look like `Name <email>`")
        return v


class NewMessage(BaseModel):
    text: str = Field(min_length=1)
    author: str = Field("api", min_length=1, max_length=200)


def slug(text: str, max_len: int = 40) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:max_len].rstrip("-") or "task"


def title_of(prompt: str) -> str:
    first = prompt.strip().splitlines()[0] if prompt.strip() else "task"
    return first[:100]
