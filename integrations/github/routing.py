"""Decisions about a GitHub event, as pure functions: does it ask Nightshift for work, is it counted on a PR, may
the person start work, how is a fork's PR handled. The handler does the I/O around them."""

import re
from dataclasses import dataclass
from typing import Literal

from integrations.github.config import ForkPolicy
from integrations.github.models import CommentEvent, GitHubEvent

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def mentions(body: str, mention: str) -> bool:
    """True when the text hands work to `mention` (e.g. @nightshift). Quoted lines and code do not count: a reply
    quoting an earlier request must not start the work again."""
    text = _INLINE_CODE.sub("", _FENCE.sub("", body))
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))
    return re.search(rf"(?<![\w@/.-]){re.escape(mention)}(?![\w-])", text, re.IGNORECASE) is not None


@dataclass(frozen=True)
class Plan:
    trigger: bool = False
    """Start a session, or continue the one of this issue or PR."""
    record: bool = False
    """Count it on the pull request's history (only Nightshift's PRs are counted)."""
    reason: str = ""
    """Why nothing is triggered, for the log."""


def plan(event: GitHubEvent, *, bot_login: str, mention: str) -> Plan:
    if not isinstance(event, CommentEvent):
        return Plan(record=True)
    if event.author.login.lower() == bot_login.lower() or event.author.is_bot:
        return Plan(reason="written by a bot")  # never act on our own comments (or another bot's): no loops
    if not mentions(event.body, mention):
        return Plan(record=event.on_pull_request, reason=f"does not mention {mention}")
    return Plan(trigger=True, record=event.on_pull_request)


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
