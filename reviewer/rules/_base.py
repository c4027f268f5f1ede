"""What every rule sees (one parsed file, the lines the PR changed, an index of the whole repo) and returns."""

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from reviewer.models import Finding, Severity


@dataclass(frozen=True)
class Source:
    path: str
    text: str
    tree: ast.Module
    lines: list[str]
    """The file's lines without line ends; `lines[n - 1]` is line n."""

    @classmethod
    def parse(cls, path: str, text: str) -> "Source":
        """Raises SyntaxError for a file that is not valid Python: the caller decides what that means."""
        return cls(path=path, text=text, tree=ast.parse(text, filename=path), lines=text.splitlines())

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""


@dataclass(frozen=True)
class Helper:
    path: str
    name: str
    line: int


@dataclass
class RepoIndex:
    """Facts about the whole repository at the head commit that a rule on one file needs."""

    attributes: dict[str, str] = field(default_factory=dict)
    """Attribute name → `path:Class` of a class that defines it (a field, a `self.x =` or a method)."""
    helpers: dict[str, list[Helper]] = field(default_factory=dict)
    """Normalized function body → the functions that have it."""
    body_keys: dict[tuple[str, int], str] = field(default_factory=dict)
    """(path, line of the def) → its normalized body, so the rule does not hash a file's functions twice."""


Check = Callable[[Source, RepoIndex], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    """One line for `nightshift review --list-rules` and the docs."""
    check: Check

    def finding(self, src: Source, line: int, message: str, suggestion: str | None = None) -> Finding:
        return Finding(
            rule=self.id, severity=self.severity, path=src.path, line=line, message=message, suggestion=suggestion
        )
