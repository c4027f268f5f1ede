"""A session's log as the page shows it: each tool call's progress, result and artifacts nested under the model
turn that made the call. Live events are nested the same way by the page's script (data-attach), so history and
live rendering agree."""

from dataclasses import dataclass, field

from harness.events import ArtifactSaved, LoggedEvent, ModelTurnEvent, ToolResult, ToolStarted
from harness.messages import ToolUseBlock


@dataclass
class Entry:
    item: LoggedEvent
    attached: dict[str, list[LoggedEvent]] = field(default_factory=dict)
    """For a model turn: the events that belong to each of its tool calls, by tool_use id."""


def tool_use_of(item: LoggedEvent) -> str | None:
    """The tool call an event belongs to, for events that belong to one."""
    event = item.event
    if isinstance(event, ToolStarted | ToolResult):
        return event.tool_use_id
    if isinstance(event, ArtifactSaved):
        return event.tool_use_id
    return None


def attach_to(item: LoggedEvent) -> str:
    """The id of the element the page's script puts a live event in ("" for the log itself)."""
    tool_use_id = tool_use_of(item)
    return f"tool-{tool_use_id}" if tool_use_id else ""


def timeline(log: list[LoggedEvent]) -> list[Entry]:
    entries: list[Entry] = []
    calls: dict[str, list[LoggedEvent]] = {}
    for item in log:
        tool_use_id = tool_use_of(item)
        if tool_use_id is not None and tool_use_id in calls:
            calls[tool_use_id].append(item)
            continue
        entry = Entry(item)
        if isinstance(item.event, ModelTurnEvent):
            entry.attached = {b.id: [] for b in item.event.content if isinstance(b, ToolUseBlock)}
            calls.update(entry.attached)
        entries.append(entry)
    return entries
