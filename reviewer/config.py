"""A repository's reviewer settings: the `[review]` table of `.nightshift/config` (TOML) on the head commit.

[review]
on = ["opened", "ready_for_review", "review_requested", "mention"]   # what starts a review
drafts = false                                                        # review draft PRs too
model = true                                                          # run the model, not only the rules

[review.rules]
narrating-comment = false                                             # turn one rule off
"""

import tomllib
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from harness.errors import ConfigError
from reviewer.rules import ALL_RULES, Rule

CONFIG_PATH = ".nightshift/config"
PROMPT_PATH = ".nightshift/review.md"

Trigger = Literal["opened", "ready_for_review", "synchronize", "review_requested", "mention"]


class ReviewConfig(BaseModel):
    on: list[Trigger] = ["opened", "ready_for_review", "synchronize", "review_requested", "mention"]
    """Events that start a review. `synchronize` (new commits) reviews only the commits since the last review."""
    drafts: bool = False
    """Review draft PRs on automatic triggers; an explicit request always reviews."""
    model: bool = True
    """Run the model with `.nightshift/review.md`; off: deterministic rules only."""
    rules: dict[str, bool] = Field(default_factory=dict)
    """Rule id → on/off; rules not named are on."""
    max_reviews_per_pr: int = 20
    """A hard stop on automatic reviews of one PR, whatever pushes new commits to it."""
    max_inline_comments: int = 30
    """More findings than this go into the summary only, so a huge PR does not get a wall of comments."""

    def enabled_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in ALL_RULES if self.rules.get(r.id, True))


def load_review_config(text: str | None) -> ReviewConfig:
    """The `[review]` table of `.nightshift/config`; None (no file) means the defaults."""
    if text is None:
        return ReviewConfig()
    try:
        table = tomllib.loads(text).get("review", {})
        config = ReviewConfig.model_validate(table)
    except (tomllib.TOMLDecodeError, ValidationError) as e:
        raise ConfigError(f"{CONFIG_PATH}: {e}") from e
    unknown = sorted(set(config.rules) - {r.id for r in ALL_RULES})
    if unknown:
        known = ", ".join(r.id for r in ALL_RULES)
        raise ConfigError(f"{CONFIG_PATH}: unknown rule(s) {', '.join(unknown)}; the rules are: {known}")
    return config
