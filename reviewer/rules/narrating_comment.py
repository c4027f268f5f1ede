"""Comments that narrate the code: `# increment the counter` above `counter += 1`. They restate the next line,
rot when it changes, and crowd out the comments that say why."""

import io
import re
import tokenize
from collections.abc import Iterator

from reviewer.models import Finding, Severity
from reviewer.rules._base import RepoIndex, Rule, Source

MIN_WORDS = 2
MIN_OVERLAP = 0.6
"""Share of the comment's words that also appear in the next line's identifiers."""
_WHY = re.compile(r"\b(because|since|so that|otherwise|why|workaround|note|todo|fixme|hack|must|avoid|else)\b", re.I)
_DIRECTIVE = re.compile(r"^(noqa|type:|pragma|fmt:|pylint|mypy|ruff|isort|nosec|-\*-|!)")
_STOP = {
    "the", "a", "an", "to", "of", "and", "or", "in", "on", "for", "with", "is", "it", "this", "that", "we", "from",
    "by", "as", "be", "at", "if", "then", "its", "into", "our", "all", "each", "new", "call", "function", "variable",
    "value", "method",
}  # fmt: skip
_SYNONYMS = {"increment": "+=", "decrement": "-=", "return": "return", "loop": "for", "iterate": "for"}


def _check(src: Source, index: RepoIndex) -> Iterator[Finding]:
    for line, comment in _full_line_comments(src.text):
        code = _next_code(src, line)
        if code is not None and _narrates(comment, code):
            yield RULE.finding(
                src,
                line,
                f"This comment restates the next line (`{code.strip()[:60]}`). Delete it, or say why the code "
                "does this instead of what it does.",
                suggestion="",
            )


def _full_line_comments(text: str) -> Iterator[tuple[int, str]]:
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    for tok in tokens:
        if tok.type == tokenize.COMMENT and not tok.line[: tok.start[1]].strip():
            yield tok.start[0], tok.string.lstrip("#").strip()


def _next_code(src: Source, line: int) -> str | None:
    for text in src.lines[line:]:
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            return text
    return None


def _narrates(comment: str, code: str) -> bool:
    if _DIRECTIVE.match(comment) or _WHY.search(comment):
        return False
    words = [w for w in re.findall(r"[a-z]+", comment.lower()) if w not in _STOP]
    if len(words) < MIN_WORDS:
        return False
    idents = set(re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", code).lower()))
    idents |= {word for word, token in _SYNONYMS.items() if token in code}
    hits = sum(1 for w in words if w in idents or w.rstrip("s") in idents)
    return hits / len(words) >= MIN_OVERLAP


RULE = Rule(
    id="narrating-comment",
    severity=Severity.info,
    summary="comments that restate the line below them",
    check=_check,
)
