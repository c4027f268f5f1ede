"""Back-compat re-export shims: a module that only re-imports names from elsewhere, an import kept "for
backwards compatibility", or the `from m import x as x` re-export idiom.

Agents leave these behind after a move so nothing breaks; in a codebase with no outside importers they are
a second name for everything, and readers cannot tell which one is real."""

import ast
import re
from collections.abc import Iterator

from reviewer.models import Finding, Severity
from reviewer.rules._base import RepoIndex, Rule, Source

_COMPAT = re.compile(r"back(ward)?s?[- ]?compat|compatib|re-?export|legacy|old (import )?path|deprecated alias", re.I)


def _check(src: Source, index: RepoIndex) -> Iterator[Finding]:
    imports = [n for n in src.tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    if _only_reexports(src) and imports:
        yield RULE.finding(
            src,
            imports[0].lineno,
            "This module only re-exports names from elsewhere: a back-compat shim. Point the importers at the real "
            "module and delete it, so every name has one home.",
        )
        return
    for node in imports:
        yield from _flag_import(src, node)


def _flag_import(src: Source, node: ast.Import | ast.ImportFrom) -> Iterator[Finding]:
    above = src.line(node.lineno - 1).strip()
    said = _comment(src.line(node.lineno)) + " " + (above if above.startswith("#") else "")
    if _COMPAT.search(said):
        yield RULE.finding(
            src,
            node.lineno,
            "An import kept for backwards compatibility: update the code that still uses the old name instead of "
            "keeping an alias that hides where the name lives.",
        )
    elif isinstance(node, ast.ImportFrom) and any(a.asname == a.name for a in node.names):
        yield RULE.finding(
            src,
            node.lineno,
            "`import x as x` is the re-export idiom: if other modules need this name, they should import it from "
            "where it is defined.",
        )


def _comment(line: str) -> str:
    """The trailing comment of an import line (an import statement itself never contains `#`)."""
    return line.split("#", 1)[1] if "#" in line else ""


def _only_reexports(src: Source) -> bool:
    if src.path.endswith("__init__.py"):
        return False  # a package's public surface is what __init__ is for
    body = src.tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return bool(body) and all(isinstance(n, ast.Import | ast.ImportFrom) or _is_all(n) for n in body)


def _is_all(node: ast.stmt) -> bool:
    return isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)


RULE = Rule(
    id="reexport-shim",
    severity=Severity.warning,
    summary="modules or imports that only keep an old import path working",
    check=_check,
)
