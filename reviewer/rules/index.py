"""Build the RepoIndex the rules look things up in, from every parsed Python file of the head commit."""

import ast
from collections.abc import Iterable

from reviewer.rules._base import Helper, RepoIndex, Source
from reviewer.rules.duplicate_helper import body_key, functions


def build_index(sources: Iterable[Source]) -> RepoIndex:
    index = RepoIndex()
    for src in sources:
        for node in ast.walk(src.tree):
            if isinstance(node, ast.ClassDef):
                for name in _defined(node):
                    index.attributes.setdefault(name, f"{src.path}:{node.name}")
        for fn in functions(src.tree):
            key = body_key(fn)
            if key is not None:
                index.body_keys[(src.path, fn.lineno)] = key
                index.helpers.setdefault(key, []).append(Helper(path=src.path, name=fn.name, line=fn.lineno))
    return index


def _defined(cls: ast.ClassDef) -> Iterable[str]:
    """Fields, class attributes, methods, and `self.x = …` anywhere in the class's methods."""
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.target.id
        elif isinstance(node, ast.Assign):
            yield from (t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("__"):
            yield node.name
    for node in ast.walk(cls):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _is_self(node.value):
            yield node.attr


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"
