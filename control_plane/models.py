"""The session record and the requests that create and steer sessions."""

import json
import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from harness.events import SessionStatus

Source = Literal["cli", "web", "api", "slack", "github", "sentry", "webhook"]


class Session(BaseModel):
    id: str
    repo: str
    """Git URL or absolute path of the repository the work is pushed to."""
    base: str | None
    """Ref or commit the work starts from; None means the repository's default branch."""
    branch: str
    """Branch the control plane pushes the work to."""
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

    @field_validator("base")
    @classmethod
    def _ref_shape(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9._/@+-]+", v):
            raise ValueError("base must be a branch, tag or commit name")
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
