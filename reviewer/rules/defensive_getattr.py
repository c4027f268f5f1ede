"""`getattr(obj, "name", default)` / `hasattr(obj, "name")` on an attribute the code itself defines.

Agents write these "just in case". When the attribute is ours, the guard can only hide a rename or a typo:
the default is returned silently where an AttributeError would have pointed at the bug."""

import ast
from collections.abc import Iterator

from reviewer.models import Finding, Severity
from reviewer.rules._base import RepoIndex, Rule, Source


def _check(src: Source, index: RepoIndex) -> Iterator[Finding]:
    for node in ast.walk(src.tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in ("getattr", "hasattr") or len(node.args) < 2:
            continue
        name = node.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            continue  # a computed name is real reflection
        owner = index.attributes.get(name.value)
        if owner is None or not (owner.startswith(src.path + ":") or _is_self(node.args[0])):
            continue  # a common name defined somewhere else in the repo says little about this object
        yield RULE.finding(src, node.lineno, _message(node, name.value, owner), _suggestion(src, node))


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _message(node: ast.Call, attr: str, owner: str) -> str:
    assert isinstance(node.func, ast.Name)
    return (
        f"`{node.func.id}(…, {attr!r}…)` guards `{attr}`, which the code defines ({owner}): access it directly, so a "
        "rename or a wrong type fails loudly instead of silently taking the fallback."
    )


def _suggestion(src: Source, node: ast.Call) -> str | None:
    """`getattr(x, "a")` and `getattr(x, "a", d)` on one line become `x.a`; hasattr needs a human."""
    assert isinstance(node.func, ast.Name)
    if node.func.id != "getattr" or node.end_lineno != node.lineno or node.end_col_offset is None:
        return None
    target = ast.get_source_segment(src.text, node.args[0])
    name = node.args[1]
    assert isinstance(name, ast.Constant)
    if target is None:
        return None
    line = src.line(node.lineno).encode()  # ast offsets count UTF-8 bytes
    return (line[: node.col_offset] + f"{target}.{name.value}".encode() + line[node.end_col_offset :]).decode()


RULE = Rule(
    id="defensive-getattr",
    severity=Severity.warning,
    summary="getattr/hasattr with a literal name on an attribute the code defines",
    check=_check,
)
