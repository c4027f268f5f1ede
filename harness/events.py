"""The session event log's schema. Every event is appended to a Redis stream and never changed.

The log is the source of truth: the API, the web UI, `nightshift logs`, and a worker resuming a
session after a crash all read it. The model transcript is rebuilt from it (see transcript.py).
"""

import time
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from harness.messages import ContentBlock, StopReason, TextBlock, Usage

SessionStatus = Literal["queued", "running", "waiting_for_input", "finished", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"finished", "failed", "cancelled"})
RunOutcome = Literal["finished", "budget_exhausted", "cancelled", "failed", "waiting"]
"""waiting: the agent paused until its sub-sessions end (status waiting_for_input); their end wakes it."""


class _Event(BaseModel):
    at: float = Field(default_factory=time.time)
    """Unix time the event was appended."""


class SessionCreated(_Event):
    kind: Literal["session_created"] = "session_created"
    repo: str
    base: str | None
    branch: str
    source: str
    requested_by: str
    parent_id: str | None = None
    """Set for a sub-session: the session that started it."""


class UserMessage(_Event):
    kind: Literal["user_message"] = "user_message"
    text: str
    author: str


class StatusChanged(_Event):
    kind: Literal["status_changed"] = "status_changed"
    status: SessionStatus
    reason: str = ""


class RunStarted(_Event):
    kind: Literal["run_started"] = "run_started"
    run: int
    worker: str
    resumed: bool = False
    """True when this run picks up a session another worker left mid-run."""


class ModelTurnEvent(_Event):
    kind: Literal["model_turn"] = "model_turn"
    step: int
    content: list[ContentBlock]
    stop_reason: StopReason | None
    usage: Usage
    model: str
    cost_usd: float
    delivered_through: str | None = None
    """Id of the newest user_message event that was part of the request behind this turn."""
    notice: str | None = None
    """Text the harness itself put at the end of that request (the wrap-up request when a budget ran out)."""
    notice_kind: Literal["wrap_up", "go_on"] = "wrap_up"
    """What the notice asked for: the report a run writes when a budget ends it, or to go on with a reply that
    was empty or cut short."""


class ModelRetry(_Event):
    kind: Literal["model_retry"] = "model_retry"
    attempt: int
    wait_s: float
    error: str


class ToolStarted(_Event):
    kind: Literal["tool_started"] = "tool_started"
    tool_use_id: str
    name: str
    summary: str
    """One line for people watching: the command, the path."""


class ToolResult(_Event):
    kind: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    name: str
    output: str
    is_error: bool = False
    truncated: bool = False
    duration_ms: int = 0


class Note(_Event):
    kind: Literal["note"] = "note"
    text: str
    """Progress from the control plane for people watching (cloning, pushing); not sent to the model."""


class BranchPushed(_Event):
    kind: Literal["branch_pushed"] = "branch_pushed"
    branch: str
    commit: str
    remote: str
    checkpoint: bool = False
    """True when pushed because a run ended early (budget, cancel, error), so no work is lost."""


class PullRequestOpened(_Event):
    kind: Literal["pull_request"] = "pull_request"
    url: str
    number: int
    action: Literal["opened", "updated"]
    """opened: the work got a new pull request; updated: its description now tells about the latest run."""
    draft: bool = False


class RunFinished(_Event):
    kind: Literal["run_finished"] = "run_finished"
    outcome: RunOutcome
    summary: str


class Compacted(_Event):
    kind: Literal["compacted"] = "compacted"
    content: list[TextBlock]
    """What the transcript restarts from: the task as first given, then the summary of the work so far."""
    replaced_steps: int
    """Model turns the summary stands for."""
    usage: Usage
    model: str
    cost_usd: float


class ArtifactSaved(_Event):
    kind: Literal["artifact"] = "artifact"
    name: str
    path: str
    """Relative to the data dir's artifacts/ directory: `<session_id>/<name>`."""
    mime_type: str
    size_bytes: int
    tool_use_id: str | None = None
    description: str = ""


class RepoNoteAdded(_Event):
    kind: Literal["repo_note_added"] = "repo_note_added"
    note_id: str
    repo: str
    text: str
    reason: str = ""


class SubSessionStarted(_Event):
    kind: Literal["sub_session_started"] = "sub_session_started"
    child_id: str
    title: str
    branch: str


class ErrorEvent(_Event):
    kind: Literal["error"] = "error"
    message: str


Event = Annotated[
    SessionCreated
    | UserMessage
    | StatusChanged
    | RunStarted
    | ModelTurnEvent
    | ModelRetry
    | ToolStarted
    | ToolResult
    | Note
    | BranchPushed
    | PullRequestOpened
    | RunFinished
    | ErrorEvent
    | Compacted
    | ArtifactSaved
    | RepoNoteAdded
    | SubSessionStarted,
    Field(discriminator="kind"),
]
EVENT: TypeAdapter[Event] = TypeAdapter(Event)


class LoggedEvent(BaseModel):
    """An event with the id the log gave it (a Redis stream id, usable as a cursor)."""

    id: str
    event: Event
