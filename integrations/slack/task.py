"""What a person asked for, read from the text of their Slack message. Pure functions, no I/O."""

import re
from dataclasses import dataclass

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|ssh|git|file)://[^>|]+)(?:\|[^>]*)?>")
_REPO = re.compile(r"(?:^|\s)repo=(\S+)")
_OWNER_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_STOP_WORDS = {"stop", "cancel"}


@dataclass(frozen=True)
class Task:
    text: str
    """The request without the bot's mention and the repo= part."""
    repo: str | None
    """As written after repo=: owner/name, a URL or a path on the control plane's machine."""


def parse_task(text: str) -> Task:
    # Slack sends mentions as <@U123> and links as <https://x|label>: people wrote neither form.
    plain = _LINK.sub(r"\1", _MENTION.sub("", text))
    found = _REPO.search(plain)
    rest = _REPO.sub(" ", plain) if found else plain
    return Task(text=_unescape(re.sub(r"[ \t]+", " ", rest).strip()), repo=_unescape(found.group(1)) if found else None)


def repo_location(spec: str, github_url: str) -> str:
    """`owner/name` is a repository on GitHub; anything else (a URL, an absolute path) is used as written."""
    return f"{github_url}/{spec.removesuffix('.git')}.git" if _OWNER_NAME.fullmatch(spec) else spec


def is_stop(text: str) -> bool:
    """A reply that is only `stop` (or `cancel`), mention or not, asks to cancel the session."""
    words = _MENTION.sub("", text).strip().strip(".!").lower()
    return words in _STOP_WORDS


def _unescape(text: str) -> str:
    # Slack escapes exactly these three in message text.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
