"""A new helper that duplicates an existing one: same body once its parameters and local names are renamed.

Agents rarely search before writing `_format_size`; the second copy then drifts from the first."""

import ast
import hashlib
import re
from collections.abc import Iterator

from reviewer.models import Finding, Severity
from reviewer.rules._base import Helper, RepoIndex, Rule, Source

MIN_BODY_NODES = 20
"""Smaller bodies (a getter, `return x + 1`) are alike by chance, not by copying."""
MAX_BODY_NODES = 400
"""Bigger functions are not helpers; hashing them is most of the rule's cost."""

Function = ast.FunctionDef | ast.AsyncFunctionDef


def body_key(fn: Function) -> str | None:
    """A hash of the body with parameters and assigned names renamed in order of appearance; None if too small."""
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    size = sum(1 for stmt in body for _ in ast.walk(stmt))
    if not MIN_BODY_NODES <= size <= MAX_BODY_NODES:
        return None
    local = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)]
    local += [n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    names = {name: f"_{i}" for i, name in enumerate(dict.fromkeys(local))}
    dumped = " ".join(ast.dump(stmt) for stmt in body)
    renamed = _NAME.sub(lambda m: f"Name(id='{names.get(m[1], m[1])}'", dumped)
    return hashlib.sha1(renamed.encode()).hexdigest()


def functions(tree: ast.Module) -> Iterator[Function]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


_NAME = re.compile(r"Name\(id='([^']*)'")


def _check(src: Source, index: RepoIndex) -> Iterator[Finding]:
    for fn in functions(src.tree):
        key = index.body_keys.get((src.path, fn.lineno)) or body_key(fn)
        others = [h for h in index.helpers.get(key, []) if (h.path, h.line) != (src.path, fn.lineno)] if key else []
        if others:
            yield RULE.finding(src, fn.lineno, _message(fn.name, others[0]))


def _message(name: str, other: Helper) -> str:
    return (
        f"`{name}` has the same body as `{other.name}` ({other.path}:{other.line}): use that one (or move it "
        "somewhere both can import) instead of keeping two copies that will drift."
    )


RULE = Rule(
    id="duplicate-helper",
    severity=Severity.warning,
    summary="a function whose body duplicates an existing function's",
    check=_check,
)
