"""One line per event, for `nightshift run` and `nightshift logs`."""

from harness.events import (
    ArtifactSaved,
    BranchPushed,
    Compacted,
    ErrorEvent,
    Event,
    ModelRetry,
    ModelTurnEvent,
    Note,
    PullRequestOpened,
    RepoNoteAdded,
    RunFinished,
    RunStarted,
    SessionCreated,
    StatusChanged,
    SubSessionStarted,
    ToolResult,
    ToolStarted,
    UserMessage,
)


def _first_line(text: str, width: int = 110) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def _published(event: BranchPushed | PullRequestOpened) -> str:
    if isinstance(event, PullRequestOpened):
        return f"pull request {event.action}: {event.url}" + (" (draft)" if event.draft else "")
    kind = "checkpoint pushed" if event.checkpoint else "pushed"
    return f"{kind}: {event.branch} @ {event.commit[:12]} → {event.remote}"


def _aside(event: Note | Compacted | ArtifactSaved | RepoNoteAdded | SubSessionStarted) -> str:
    """What happened beside the model's turns and tools: notes, compaction, artifacts, repo notes, sub-sessions."""
    match event:
        case Note():
            return f"· {event.text}"
        case Compacted():
            return f"compacted {event.replaced_steps} turns into a summary · {_tokens(event.usage.total_tokens)} tokens"
        case ArtifactSaved():
            size = _tokens(event.size_bytes)
            return f"    ▣ {event.name} ({event.mime_type.split(';')[0]}, {size}B) {event.description}"
        case RepoNoteAdded():
            return f"· note {event.note_id} saved for {event.repo}: {_first_line(event.text, 80)}"
        case SubSessionStarted():
            return f"· sub-session {event.child_id} started: {_first_line(event.title, 60)} → {event.branch}"


def line(event: Event) -> str:
    match event:
        case SessionCreated():
            base = f"@{event.base}" if event.base else ""
            return f"session created for {event.repo}{base} by {event.requested_by} → branch {event.branch}"
        case UserMessage():
            return f"[{event.author}] {_first_line(event.text)}"
        case StatusChanged():
            return f"status: {event.status}" + (f" — {_first_line(event.reason)}" if event.reason else "")
        case RunStarted():
            return f"run {event.run} started on {event.worker}" + (" (resumed)" if event.resumed else "")
        case ModelTurnEvent():
            said = _first_line(" ".join(b.text for b in event.content if b.type == "text"), 80)
            cost = f" · ${event.cost_usd:.4f}" if event.cost_usd else ""
            return f"step {event.step} · {_tokens(event.usage.total_tokens)} tokens{cost}" + (
                f" · {said}" if said else ""
            )
        case ModelRetry():
            return f"model API: {_first_line(event.error, 80)} — retry {event.attempt} in {event.wait_s:.1f}s"
        case ToolStarted():
            return f"  → {_first_line(event.summary)}"
        case ToolResult():
            mark = "✗" if event.is_error else "✓"
            cut = " (truncated)" if event.truncated else ""
            return f"    {mark} {event.name} {event.duration_ms}ms{cut} {_first_line(event.output, 80)}"
        case BranchPushed() | PullRequestOpened():
            return _published(event)
        case RunFinished():
            return f"run {event.outcome}: {_first_line(event.summary)}"
        case ErrorEvent():
            return f"error: {event.message}"
        case Note() | Compacted() | ArtifactSaved() | RepoNoteAdded() | SubSessionStarted():
            return _aside(event)
