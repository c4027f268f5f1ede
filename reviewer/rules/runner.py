"""Run the enabled rules over the changed Python files and keep the findings on changed lines."""

from collections.abc import Iterable, Mapping

from reviewer.models import Finding
from reviewer.rules._base import RepoIndex, Rule, Source


def run_rules(
    sources: Iterable[Source], changed: Mapping[str, frozenset[int]], index: RepoIndex, rules: Iterable[Rule]
) -> list[Finding]:
    """`changed`: path → head lines the PR added. Files not in it are only context (the index), never reviewed."""
    chosen = tuple(rules)
    found: list[Finding] = []
    for src in sources:
        lines = changed.get(src.path)
        if not lines:
            continue
        for rule in chosen:
            found.extend(f for f in rule.check(src, index) if f.line in lines)
    return found
