"""Slack payloads parsed into our own models, at the edge: the rest of the integration never sees a raw dict.

Events API bodies and block_actions payloads follow https://api.slack.com/events and
https://api.slack.com/reference/interaction-payloads/block-actions. A payload that misses what we need raises
MalformedEvent (answered with a 400); one we deliberately ignore (edits, joins, other bots) parses to None.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from control_plane.errors import BadRequest

CHOOSE_REPO = "nightshift_choose_repo"
"""action_id of the buttons offering repositories for a request that named none."""


class MalformedEvent(BadRequest):
    pass


class SlackMessage(BaseModel):
    """A person wrote to the bot: a mention, a reply in a thread, or a direct message."""

    kind: Literal["message"] = "message"
    event_id: str
    team: str
    channel: str
    user: str
    text: str
    ts: str
    thread_ts: str | None = None
    """The thread it was posted in; None for a top-level message."""
    addressed: bool
    """A mention, or a top-level direct message: it may start a session. Else only a follow-up."""

    @property
    def thread(self) -> str:
        """The thread the bot answers in: the message's own when it started none."""
        return self.thread_ts or self.ts

    @property
    def origin(self) -> str:
        return origin_of(self.team, self.channel, self.thread)

    @property
    def cause(self) -> str:
        """The message itself (not the event, which Slack may send twice under two ids: a mention and a message):
        what it puts into a session is put there once, however often its job is handled."""
        return f"slack:{self.team}/{self.channel}/{self.ts}"


class RepoChosen(BaseModel):
    """Someone clicked one of the repository buttons the bot offered."""

    kind: Literal["repo_chosen"] = "repo_chosen"
    click_id: str
    team: str
    channel: str
    thread_ts: str
    question_ts: str
    """The bot's message holding the buttons, replaced by the answer."""
    user: str
    repo: str

    @property
    def origin(self) -> str:
        return origin_of(self.team, self.channel, self.thread_ts)


SlackJob = Annotated[SlackMessage | RepoChosen, Field(discriminator="kind")]
JOB: TypeAdapter[SlackMessage | RepoChosen] = TypeAdapter(SlackJob)

_PERSON_SUBTYPES = {None, "file_share", "thread_broadcast"}
"""Message subtypes that are a person writing; the rest (edits, deletions, joins) are not requests."""


def origin_of(team: str, channel: str, thread_ts: str) -> str:
    """The origin key of a thread: one thread maps to one session."""
    return f"slack:{team}/{channel}/{thread_ts}"


def parse_event(body: dict[str, Any], *, bot_user_id: str | None, allow_bots: bool) -> SlackMessage | None:
    """An app_mention or message event callback as a SlackMessage, or None when it is not for us."""
    event = _field(body, "event", dict)
    kind = _field(event, "type", str)
    if event.get("subtype") not in _PERSON_SUBTYPES:
        return None
    if "bot_id" in event and not allow_bots:
        return None
    text = event.get("text") or ""
    mention = f"<@{bot_user_id}>" in text if bot_user_id else False
    direct = event.get("channel_type") == "im"
    if kind == "message" and mention and not direct:
        return None  # the same message also arrives as an app_mention, which is the one acted on
    return SlackMessage(
        event_id=_field(body, "event_id", str),
        team=_field(body, "team_id", str),
        channel=_field(event, "channel", str),
        user=event.get("user") or _field(event, "bot_id", str),
        text=text,
        ts=_field(event, "ts", str),
        thread_ts=event.get("thread_ts"),
        addressed=kind == "app_mention" or (direct and "thread_ts" not in event),
    )


def parse_repo_choice(body: dict[str, Any]) -> RepoChosen:
    action = next((a for a in _field(body, "actions", list) if str(a.get("action_id")).startswith(CHOOSE_REPO)), None)
    if action is None:
        raise MalformedEvent(f"block_actions payload without a {CHOOSE_REPO} action")
    container = _field(body, "container", dict)
    message = _field(body, "message", dict)
    return RepoChosen(
        click_id=f"{_field(container, 'message_ts', str)}:{_field(action, 'action_ts', str)}",
        team=_field(_field(body, "team", dict), "id", str),
        channel=_field(container, "channel_id", str),
        thread_ts=message.get("thread_ts") or _field(container, "message_ts", str),
        question_ts=_field(container, "message_ts", str),
        user=_field(_field(body, "user", dict), "id", str),
        repo=_field(action, "value", str),
    )


def _field(obj: dict[str, Any], name: str, kind: type) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind):
        raise MalformedEvent(f"Slack payload field {name!r} is missing or not a {kind.__name__}")
    return value
