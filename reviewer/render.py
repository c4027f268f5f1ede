"""The text of a review on GitHub: inline comment bodies, the summary, and the hidden markers that let the next
review know what this one covered (head commit) and posted (finding fingerprints)."""

import re
from collections.abc import Iterable

from reviewer.models import Finding, Severity

_REVIEW_MARK = re.compile(r"<!-- nightshift-review head=([0-9a-f]{7,40}) -->")
_FINDING_MARK = re.compile(r"<!-- nightshift-finding ([0-9a-f]{16}) -->")
_ICON = {Severity.error: "🔴", Severity.warning: "🟡", Severity.info: "🔵"}
MENTION = re.compile(r"@(?=\w)")


def comment_body(f: Finding, fingerprint: str) -> str:
    lines = [f"{_ICON[f.severity]} **{f.severity.value}** · `{f.rule}`", "", _quiet(f.message)]
    if f.suggestion is not None:
        lines += ["", "```suggestion", *([f.suggestion] if f.suggestion else []), "```"]
    return "\n".join([*lines, f"<!-- nightshift-finding {fingerprint} -->"])


def summary_body(
    head_sha: str, counts: dict[Severity, int], unanchored: Iterable[Finding], *, scope: str, notes: Iterable[str]
) -> str:
    total = sum(counts.values())
    tally = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "nothing to report"
    lines = [f"**Nightshift review** of `{head_sha[:12]}` ({scope}): {tally}."]
    outside = [f"- `{f.path}:{f.line}` {_ICON[f.severity]} `{f.rule}`: {_quiet(f.message)}" for f in unanchored]
    if outside:
        lines += ["", "Not shown inline (outside the diff or over the comment limit):", *outside]
    lines += [f"\n_{_quiet(note)}_" for note in notes]
    if total:
        lines += [
            "",
            "Rules are configured in `.nightshift/config`; guidance for the model in `.nightshift/review.md`.",
        ]
    return "\n".join([*lines, f"<!-- nightshift-review head={head_sha} -->"])


def reviewed_head(body: str) -> str | None:
    m = _REVIEW_MARK.search(body or "")
    return m[1] if m else None


def posted_fingerprints(body: str) -> set[str]:
    return set(_FINDING_MARK.findall(body or ""))


def _quiet(text: str) -> str:
    """No @mentions in what the bot posts: a review must never summon Nightshift (or anyone) by itself."""
    return MENTION.sub("@\u200b", text)
