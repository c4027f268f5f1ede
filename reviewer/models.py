"""Typed findings and the review they become: what crosses every boundary of the reviewer."""

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel


class Severity(StrEnum):
    #: A bug or a hazard: should block a merge.
    error = "error"
    #: A smell that will cost the next reader: should be fixed in this PR.
    warning = "warning"
    #: Worth knowing; fine to leave.
    info = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.error: 0, Severity.warning: 1, Severity.info: 2}


class Finding(BaseModel):
    rule: str
    """A deterministic rule's id (`swallowed-exception`), or `model` for the model's own findings."""
    severity: Severity
    path: str
    line: int
    """1-based line in the PR's head version of `path`."""
    message: str
    """What is wrong and why it matters, in one or two sentences."""
    suggestion: str | None = None
    """Replacement text for `line` (GitHub suggestion block); None when the fix is not mechanical."""
    source: Literal["rule", "model"] = "rule"

    def fingerprint(self, line_text: str) -> str:
        """Stable across commits that move the line: the rule, the file and the line's own text, not its number."""
        key = f"{self.rule}\0{self.path}\0{' '.join(line_text.split())}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]


class InlineComment(BaseModel):
    path: str
    line: int
    side: Literal["RIGHT"] = "RIGHT"
    body: str
    fingerprint: str


class Review(BaseModel):
    """One review of one head commit: the summary, the inline comments, and what could not be anchored."""

    head_sha: str
    summary: str
    comments: list[InlineComment]
    findings: list[Finding]
    """Every finding kept after merging and de-duplication, best first, anchored or not."""
    counts: dict[Severity, int]
    skipped_model: str | None = None
    """Why the model part did not run (no API key...), or None when it ran."""


def count_by_severity(findings: list[Finding]) -> dict[Severity, int]:
    return {s: sum(1 for f in findings if f.severity == s) for s in Severity}
