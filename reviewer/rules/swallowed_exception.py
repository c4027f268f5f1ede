"""Swallowed exceptions: a broad `except` (bare, Exception, BaseException) whose body does nothing (`pass`,
`...`, `continue`, a bare `return`) or only logs. The failure disappears; the program goes on in a state nobody
checked, and the log line, if any, is the only trace."""

import ast
from collections.abc import Iterator

from reviewer.models import Finding, Severity
from reviewer.rules._base import RepoIndex, Rule, Source

_BROAD = {"Exception", "BaseException"}
_LOGGERS = {"log", "logger", "logging", "_log", "_logger", "LOG", "LOGGER"}
_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical"}


def _check(src: Source, index: RepoIndex) -> Iterator[Finding]:
    for node in ast.walk(src.tree):
        if not (isinstance(node, ast.ExceptHandler) and _broad(node.type)):
            continue
        caught = "bare `except:`" if node.type is None else f"`except {ast.unparse(node.type)}`"
        if all(_does_nothing(s) for s in node.body):
            yield RULE.finding(
                src,
                node.lineno,
                f"{caught} that does nothing swallows every error, bugs included. Catch the exceptions you expect "
                "and handle them, or let it propagate.",
            )
        elif all(_does_nothing(s) or _only_logs(s) for s in node.body):
            yield RULE.finding(
                src,
                node.lineno,
                f"{caught} that only logs: the caller carries on as if it worked. Catch what you expect, or re-raise "
                "after logging.",
            ).model_copy(update={"severity": Severity.warning})


def _broad(kind: ast.expr | None) -> bool:
    if kind is None:
        return True
    if isinstance(kind, ast.Tuple):
        return any(_broad(e) for e in kind.elts)
    return isinstance(kind, ast.Name) and kind.id in _BROAD


def _does_nothing(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass | ast.Continue):
        return True
    if isinstance(stmt, ast.Return):
        return stmt.value is None or (isinstance(stmt.value, ast.Constant) and stmt.value.value is None)
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)  # `...` or a string


def _only_logs(stmt: ast.stmt) -> bool:
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    func = stmt.value.func
    if isinstance(func, ast.Name):
        return func.id == "print"
    return (
        isinstance(func, ast.Attribute)
        and func.attr in _LOG_METHODS
        and isinstance(func.value, ast.Name)
        and func.value.id in _LOGGERS
    )


RULE = Rule(
    id="swallowed-exception",
    severity=Severity.error,
    summary="broad except blocks that pass or only log",
    check=_check,
)
