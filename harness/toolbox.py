"""What every tool shares: the context it runs in, what it returns, its limits, and the Tool record itself.

Tools act only through what the ToolContext hands them (the sandbox, and the optional capabilities the control
plane wired in for this session), so the same tools work on every sandbox provider and in tests.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, JsonValue

from harness.events import Event
from harness.memory import RepoMemory
from harness.messages import ToolSpec
from harness.sandboxes import Sandbox
from harness.screenshot import Screenshotter
from harness.skills import Skill
from harness.subsessions import SubSessions


@dataclass(frozen=True)
class ToolLimits:
    output_limit_bytes: int = 30_000
    """Tool output shown to the model; longer output is cut in the middle, marked, and kept whole as an artifact."""
    max_command_timeout_s: int = 600
    artifact_limit_bytes: int = 2_000_000
    """The most of one tool's output kept as an artifact (head and tail, like the model's view, only larger)."""


class NewArtifact(BaseModel):
    """A file a tool made for people (a screenshot); the loop stores it and logs an artifact event."""

    name: str
    data: bytes
    mime_type: str
    description: str = ""


class ToolOutcome(BaseModel):
    output: str
    is_error: bool = False
    truncated: bool = False
    full_output: str | None = None
    """Set when `output` was cut for the model: the whole output (up to artifact_limit_bytes), kept as an artifact."""
    artifacts: list[NewArtifact] = []
    events: list[Event] = []
    """Events the tool's effect deserves in the session log (a note saved, a sub-session started)."""


@dataclass
class ToolContext:
    """Everything a tool may act through, for one session. A capability left None hides the tools needing it."""

    sandbox: Sandbox
    limits: ToolLimits = field(default_factory=ToolLimits)
    skills: dict[str, Skill] = field(default_factory=dict)
    memory: RepoMemory | None = None
    sub_sessions: SubSessions | None = None
    screenshots: Screenshotter | None = None


Runner = Callable[[ToolContext, BaseModel], Awaitable[ToolOutcome]]


def _always(ctx: ToolContext) -> bool:
    return True


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_model: type[BaseModel]
    run: Runner
    available: Callable[[ToolContext], bool] = _always
    """Whether this session gets the tool at all (a sub-session tool needs the SubSessions capability)."""

    def spec(self) -> ToolSpec:
        schema: dict[str, JsonValue] = self.input_model.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(name=self.name, description=self.description, input_schema=schema)


def capped(text: str, limits: ToolLimits) -> ToolOutcome:
    """`text` for the model: cut in the middle past the limit, with the whole text kept for an artifact."""
    data = text.encode()
    if len(data) <= limits.output_limit_bytes:
        return ToolOutcome(output=text)
    half = limits.output_limit_bytes // 2
    cut = len(data) - 2 * half
    head, tail = data[:half].decode(errors="ignore"), data[-half:].decode(errors="ignore")
    return ToolOutcome(output=f"{head}\n[... {cut} bytes cut ...]\n{tail}", truncated=True, full_output=text)
