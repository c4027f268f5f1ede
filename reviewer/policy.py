"""Whether to review now, and what: a pure decision from the trigger and the reviews already posted."""

from collections.abc import Sequence

from pydantic import BaseModel

from reviewer.config import ReviewConfig, Trigger

EXPLICIT: frozenset[Trigger] = frozenset({"review_requested", "mention"})
"""Someone asked: drafts are reviewed and the per-PR cap does not apply."""


class Decision(BaseModel):
    review: bool
    since: str | None = None
    """The head of the last review: review only the commits after it. None: the whole PR."""
    reason: str


def decide(
    trigger: Trigger, *, head_sha: str, draft: bool, reviewed_heads: Sequence[str], config: ReviewConfig
) -> Decision:
    """`reviewed_heads`: the heads Nightshift's earlier reviews of this PR covered, oldest first.

    One review per head is what stops a loop: the bot's review cannot trigger a review of the same commit, and a
    fix pushed for it is a new head that gets one review of only its own commits."""
    explicit = trigger in EXPLICIT
    if trigger not in config.on:
        return Decision(review=False, reason=f"`{trigger}` does not start reviews in this repository")
    if head_sha in reviewed_heads:
        return Decision(review=False, reason=f"{head_sha[:12]} is already reviewed")
    if draft and not explicit and not config.drafts:
        return Decision(review=False, reason="draft pull request")
    if not explicit and len(reviewed_heads) >= config.max_reviews_per_pr:
        return Decision(review=False, reason=f"already reviewed {len(reviewed_heads)} times; ask to review again")
    since = reviewed_heads[-1] if reviewed_heads else None
    scope = f"commits after {since[:12]}" if since else "whole pull request"
    return Decision(review=True, since=since, reason=scope)
