"""The sub-session tools: spawn children, check on them, send them follow-ups, wait without holding a worker,
and collect their results (their commits fetched into this session's repository, ready to merge)."""

from pydantic import BaseModel, Field

from harness.events import SubSessionStarted
from harness.subsessions import ENDED, ChildInfo
from harness.toolbox import Tool, ToolContext, ToolOutcome

WAIT = "wait_for_sessions"
WAITING = "paused: waiting for sub-sessions"
"""How a wait_for_sessions result that ended the run starts; the loop (live or rebuilt) recognises it by this."""


class SpawnInput(BaseModel):
    task: str = Field(
        min_length=1,
        max_length=20_000,
        description=(
            "The child's whole task, self-contained: it sees nothing of this conversation. Say what to change, "
            "where, how to check it, and what not to touch."
        ),
    )


class NoInput(BaseModel):
    pass


class MessageInput(BaseModel):
    session_id: str = Field(description="The child's id, from spawn_session or check_sessions.")
    text: str = Field(min_length=1, max_length=20_000)


class CollectInput(BaseModel):
    session_id: str = Field(description="An ended child's id.")


def _line(child: ChildInfo) -> str:
    said = f" — {child.summary.strip()[:600]}" if child.summary.strip() else ""
    return f"- {child.id} [{child.status}] {child.title} (branch {child.branch}){said}"


async def _spawn(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, SpawnInput) and ctx.sub_sessions is not None
    child = await ctx.sub_sessions.spawn(args.task)
    return ToolOutcome(
        output=(
            f"started sub-session {child.id} on branch {child.branch}. It runs on its own; call {WAIT} when you "
            "have nothing else to do, then collect_session."
        ),
        events=[SubSessionStarted(child_id=child.id, title=child.title, branch=child.branch)],
    )


async def _check(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert ctx.sub_sessions is not None
    children = await ctx.sub_sessions.status()
    if not children:
        return ToolOutcome(output="no sub-sessions yet")
    running = sum(c.status not in ENDED for c in children)
    advice = f"\n{running} still running: call {WAIT} instead of checking again." if running else ""
    return ToolOutcome(output="\n".join(map(_line, children)) + advice)


async def _message(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, MessageInput) and ctx.sub_sessions is not None
    child = await ctx.sub_sessions.message(args.session_id, args.text)
    return ToolOutcome(output=f"sent to {child.id}; it is now {child.status}")


async def _wait(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert ctx.sub_sessions is not None
    children = await ctx.sub_sessions.status()
    running = [c for c in children if c.status not in ENDED]
    if not running:
        listing = "\n".join(map(_line, children)) or "no sub-sessions"
        return ToolOutcome(output=f"nothing to wait for: every sub-session has ended.\n{listing}")
    # Not a blocking wait: the run ends here and frees its worker, and the children's end wakes this session.
    ids = ", ".join(c.id for c in running)
    return ToolOutcome(output=f"{WAITING} {ids}. This run ends now; a message wakes you when they have all ended.")


async def _collect(ctx: ToolContext, args: BaseModel) -> ToolOutcome:
    assert isinstance(args, CollectInput) and ctx.sub_sessions is not None
    result = await ctx.sub_sessions.collect(args.session_id)
    lines = [_line(result)]
    if result.fetched_ref is None:
        lines.append("It pushed no changes.")
    else:
        lines.append(
            f"Its commits (up to {result.commit}) are in your repository as {result.fetched_ref}: "
            f"merge them with `git merge --no-edit {result.fetched_ref}` (or cherry-pick), then check the result."
        )
    return ToolOutcome(output="\n".join(lines))


def _can(ctx: ToolContext) -> bool:
    return ctx.sub_sessions is not None


TOOLS = [
    Tool(
        "spawn_session",
        "Start a sub-session (its own sandbox and branch) for an independent part of the task. Only when the work "
        "splits cleanly into parts that do not touch the same code; a limited number per session.",
        SpawnInput,
        _spawn,
        available=_can,
    ),
    Tool(
        "check_sessions", "List your sub-sessions with their status and last report.", NoInput, _check, available=_can
    ),
    Tool("message_session", "Send a follow-up to one of your sub-sessions.", MessageInput, _message, available=_can),
    Tool(
        WAIT,
        "Pause until every running sub-session has ended. Your run ends and frees its worker; a message wakes you.",
        NoInput,
        _wait,
        available=_can,
    ),
    Tool(
        "collect_session",
        "Get an ended sub-session's result and fetch its commits into your repository, ready to merge.",
        CollectInput,
        _collect,
        available=_can,
    ),
]
