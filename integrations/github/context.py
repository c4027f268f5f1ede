"""What an agent is told about a GitHub thread, and what Nightshift writes back: prompts, replies, PR descriptions.

Text people wrote on GitHub (titles, descriptions, comments, diffs) goes into the prompt inside markers that name
its source and say it is untrusted; the marker carries a random nonce, so text cannot close it and pose as ours.
"""

import secrets
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from integrations.github.api import Thread
from integrations.github.models import CommentEvent
from integrations.github.routing import Admission

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    autoescape=False,  # Markdown for GitHub and plain text for a model, not HTML
)
_ITEM_LIMIT_BYTES = 8_000
"""Longest single description, comment or file diff; the rest of it is cut (and says so)."""


@dataclass(frozen=True)
class Block:
    source: str
    text: str


def _cut(text: str, limit: int = _ITEM_LIMIT_BYTES) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore") + f"\n[... {len(data) - limit:,} more bytes cut]"


def _attr(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")[:200]


def _fit(blocks: list[Block], budget: int) -> tuple[list[Block], int]:
    """Keep blocks in order while they fit in `budget` bytes; the caller orders them most important first."""
    kept, used = [], 0
    for block in blocks:
        size = len(block.text.encode()) + len(block.source) + 60
        if used + size > budget:
            continue
        kept.append(block)
        used += size
    return kept, len(blocks) - len(kept)


def _where(event: CommentEvent) -> str:
    return {"issue_comment": "a comment", "review_comment": "an inline review comment", "review": "a review"}[event.via]


def first_message(
    event: CommentEvent,
    thread: Thread,
    *,
    admission: Admission,
    branch: str | None,
    upstream: str | None,
    budget_bytes: int,
) -> str:
    """The first user message of a session started from GitHub: the request, what will happen to the work, and
    the whole thread (and diff) marked as untrusted."""
    kind = "pull request" if event.on_pull_request else "issue"
    head = [
        Block(
            f"{kind} #{event.number} title and description, by @{thread.author}",
            _cut(f"{thread.title}\n\n{thread.body}"),
        )
    ]
    if event.review_thread is not None:
        rt = event.review_thread
        in_thread = [c for c in thread.review_comments if rt.root_comment_id in (c.id, c.in_reply_to)]
        text = f"{rt.path}" + (f" line {rt.line}" if rt.line else "") + f"\n{rt.diff_hunk}\n\n"
        text += "\n\n".join(f"@{c.author} ({c.at}): {c.body}" for c in in_thread)
        head.append(Block(f"the review thread the request was made in, on {rt.path}", _cut(text)))
    said = [c for c in thread.comments if c.id != event.comment_id]
    said += [c for c in thread.review_comments if event.review_thread is None or c.id != event.comment_id]
    said += [c for c in thread.reviews if c.id != event.comment_id]
    said.sort(key=lambda c: c.at, reverse=True)  # newest first: they survive a tight budget
    talk = [
        Block(f"comment by @{c.author} at {c.at}" + (f" on {c.path}" if c.path else ""), _cut(c.body)) for c in said
    ]
    diff = [
        Block(f"diff of {f.path} ({f.status})", _cut(f.patch or "(binary or too large to show)")) for f in thread.files
    ]
    blocks, omitted = _fit(head + talk + diff, budget_bytes)
    return _ENV.get_template("task.md.j2").render(
        asker=event.author.login,
        where=_where(event),
        kind=kind,
        repo=event.repo.full_name,
        number=event.number,
        comment_url=event.url,
        ask=event.body.strip(),
        admission=admission,
        branch=branch,
        upstream=upstream,
        blocks=[Block(_attr(b.source), b.text) for b in blocks],
        omitted=omitted,
        tag=f"untrusted-{secrets.token_hex(4)}",
    )


def follow_up(event: CommentEvent) -> str:
    """A later request on an issue or PR that already has its session."""
    rt = event.review_thread
    return _ENV.get_template("follow_up.md.j2").render(
        asker=event.author.login,
        comment_url=event.url,
        ask=event.body.strip(),
        path=rt.path if rt else None,
        line=rt.line if rt else None,
        hunk=_cut(rt.diff_hunk) if rt else None,
        tag=f"untrusted-{secrets.token_hex(4)}",
    )


def render(template: str, **values: object) -> str:
    return _ENV.get_template(template).render(**values).strip() + "\n"
