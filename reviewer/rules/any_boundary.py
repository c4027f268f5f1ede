"""`Any`-typed dicts and untyped tuples in the signature of a public function: data crossing a module boundary
with no shape. The caller in another module gets no checking and has to read the body to know the keys."""

import ast
from collections.abc import Iterator

from reviewer.models import Finding, Severity
from reviewer.rules._base import RepoIndex, Rule, Source

_DICTS = {"dict", "Dict", "Mapping", "MutableMapping"}
_TUPLES = {"tuple", "Tuple"}
MIN_TUPLE_ITEMS = 3
"""A pair is usually obvious from its name (`(key, value)`); three positional fields are not."""


def _check(src: Source, index: RepoIndex) -> Iterator[Finding]:
    for fn, public in _functions(src.tree.body, public=True):
        if not public or fn.name.startswith("_"):
            continue
        args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
        for where, ann in [*((f"parameter `{a.arg}`", a.annotation) for a in args), ("return type", fn.returns)]:
            problem = _problem(ann)
            if problem:
                line = ann.lineno if ann is not None else fn.lineno
                yield RULE.finding(
                    src,
                    line,
                    f"The {where} of public `{fn.name}` is {problem}: it crosses a module boundary with no shape. "
                    "Use a pydantic model, a dataclass or a TypedDict so callers are checked.",
                )


def _functions(body: list[ast.stmt], *, public: bool) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node, public
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node.body, public=public and not node.name.startswith("_"))


def _problem(ann: ast.expr | None) -> str | None:
    if ann is None:
        return None
    if _name(ann) == "Any":
        return "`Any`"
    if isinstance(ann, ast.Subscript):
        outer = _name(ann.value)
        items = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        if outer in _DICTS and len(items) == 2 and _name(items[1]) in ("Any", "object"):
            return f"`{outer}[…, {_name(items[1])}]`"
        if outer in _TUPLES and len(items) >= MIN_TUPLE_ITEMS and not any(_name(i) == "..." for i in items):
            return f"an untyped {len(items)}-tuple"
    if isinstance(ann, ast.BinOp):  # X | None
        return _problem(ann.left) or _problem(ann.right)
    return None


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.Any
        return node.attr
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return "..."
    return None


RULE = Rule(
    id="any-boundary",
    severity=Severity.warning,
    summary="dict[str, Any], Any or 3+-tuples in a public function's signature",
    check=_check,
)
