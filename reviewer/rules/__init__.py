"""Deterministic rules for the code smells agent-written Python is known for, one module per rule."""

from reviewer.rules import (
    any_boundary,
    defensive_getattr,
    duplicate_helper,
    narrating_comment,
    reexport_shim,
    swallowed_exception,
)
from reviewer.rules._base import RepoIndex, Rule, Source

ALL_RULES: tuple[Rule, ...] = (
    swallowed_exception.RULE,
    defensive_getattr.RULE,
    any_boundary.RULE,
    reexport_shim.RULE,
    duplicate_helper.RULE,
    narrating_comment.RULE,
)

__all__ = ["ALL_RULES", "RepoIndex", "Rule", "Source"]
