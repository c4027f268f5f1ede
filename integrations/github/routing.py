"""Decisions about a GitHub event, as pure functions: does it ask Nightshift for work, is it counted on a PR, may
the person start work, how is a fork's PR handled. The handler does the I/O around them."""

import re
from dataclasses import dataclass
from typing import Literal

from integrations.github.config import ForkPolicy
from integrations.github.models import CommentEvent, PullRequestEvent
from reviewer.config import Trigger

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def mentions(body: str, mention: str) -> bool:
    """True when the text hands work to `mention` (e.g. @nightshift). Quoted lines and code do not count: a reply
    quoting an earlier request must not start the work again."""
    text = _INLINE_CODE.sub("", _FENCE.sub("", body))
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))
    return re.search(rf"(?<![\w@/.-]){re.escape(mention)}(?![\w-])", text, re.IGNORECASE) is not None


def asks_for_review(body: str, mention: str) -> bool:
    """True for `@nightshift review` ending a line: the reviewer's command. "@nightshift review the tests and fix
    them" is work for a session, so anything after `review` on that line makes it an ordinary mention."""
    text = _INLINE_CODE.sub("", _FENCE.sub("", body))
    lines = (line for line in text.splitlines() if not line.lstrip().startswith(">"))
    command = re.compile(rf"(?<![\w@/.-]){re.escape(mention)}[ \t]+review[ \t]*[.!]?[ \t]*$", re.IGNORECASE)
    return any(command.search(line) for line in lines)


@dataclass(frozen=True)
class Plan:
    trigger: bool = False
    """Start a session, or continue the one of this issue or PR."""
    record: bool = False
    """Count it on the pull request's history (only Nightshift's PRs are counted)."""
    review: Trigger | None = None
    """Run the code reviewer on the PR, as this trigger (its policy then decides per repo, draft and head)."""
    reason: str = ""
    """Why nothing is triggered, for the log."""


_REVIEW_ACTIONS: dict[str, Trigger] = {
    "opened": "opened",
    "ready_for_review": "ready_for_review",
    "synchronize": "synchronize",
    "review_requested": "review_requested",
}


def plan(event: CommentEvent | PullRequestEvent, *, bot_login: str, mention: str) -> Plan:
    if isinstance(event, PullRequestEvent):
        return _plan_pull_request(event, bot_login=bot_login)
    if event.author.login.lower() == bot_login.lower() or event.author.is_bot:
        return Plan(reason="written by a bot")  # never act on our own comments (or another bot's): no loops
    if not mentions(event.body, mention):
        return Plan(record=event.on_pull_request, reason=f"does not mention {mention}")
    if event.on_pull_request and asks_for_review(event.body, mention):
        return Plan(review="mention", record=True)  # the reviewer answers, instead of a coding session
    return Plan(trigger=True, record=event.on_pull_request)


def _plan_pull_request(event: PullRequestEvent, *, bot_login: str) -> Plan:
    """Drafts are not filtered here: the repository's `[review] drafts` setting decides, in the reviewer."""
    trigger = _REVIEW_ACTIONS.get(event.action)
    if trigger is None:
        return Plan(record=True)
    if trigger == "review_requested" and (event.requested_reviewer or "").lower() != bot_login.lower():
        return Plan(reason="a review was requested from someone else")
    bot = bot_login.lower()
    # Nightshift opening its PR or pushing a fix to it is a new head worth one review (of only its new commits: the
    # reviewer's one-review-per-head stops any loop); nothing else it causes may start a review.
    own_new_head = trigger in ("opened", "synchronize") and event.author.lower() == bot
    if event.actor.login.lower() == bot and not own_new_head:
        return Plan(reason="caused by the bot")
    return Plan(review=trigger)


Admission = Literal["run", "read_only", "fork_branch", "no_permission", "fork_refused"]


def admit(permission: str, *, fork: bool, fork_policy: ForkPolicy) -> Admission:
    """Only people with write access hand out work; a fork's PR never gets the fork's code pushed with our
    credentials to the fork, and per policy gets an answer only, a branch of its own in the base repo, or a no."""
    if permission not in ("admin", "write"):
        return "no_permission"
    if not fork:
        return "run"
    policies: dict[ForkPolicy, Admission] = {
        "read_only": "read_only",
        "branch": "fork_branch",
        "refuse": "fork_refused",
    }
    return policies[fork_policy]
