"""One review, from a diff and the code at its head to typed findings placed on the diff's lines.

fetch (done by the caller: github.py or the CLI) → rules → model → merge, de-duplicate, rank → anchor → Review.
Posting is the caller's job too; this module does no GitHub I/O."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.errors import ModelAPIError
from harness.model import Model
from reviewer import render
from reviewer.config import ReviewConfig
from reviewer.diff import DiffLine, FileDiff
from reviewer.errors import ModelReviewError
from reviewer.model_review import as_findings, model_findings, review_request
from reviewer.models import Finding, InlineComment, Review, count_by_severity
from reviewer.rules import Source
from reviewer.rules.index import build_index
from reviewer.rules.runner import run_rules
from reviewer.tree import SourceTree


@dataclass(frozen=True)
class ReviewTarget:
    label: str
    """`owner/repo#12` or the diff file's name; starts the model's request (stand-in scripts route on it)."""
    head_sha: str
    diff: list[FileDiff]
    """The whole PR's diff: what inline comments anchor on."""
    diff_text: str
    title: str = ""
    description: str = ""
    only_lines: Mapping[str, frozenset[int]] | None = None
    """Set when reviewing only new commits: path → head lines those commits added."""
    posted: frozenset[str] = field(default_factory=frozenset)
    """Fingerprints of findings already posted on this PR."""


async def review(
    target: ReviewTarget, tree: SourceTree, config: ReviewConfig, *, model: Model | None, guidance: str
) -> Review:
    changed = _changed_lines(target)
    sources, notes = await _sources(target, tree, changed)
    repo_files = await tree.python_files()
    context = [s for p, t in repo_files.items() if p not in sources and (s := _parse(p, t))]
    index = build_index([*sources.values(), *context])
    found = run_rules(sources.values(), changed, index, config.enabled_rules())
    skipped = None
    if model is None or not config.model:
        skipped = "the model part was skipped (no model configured)" if config.model else "model review is off"
    else:
        try:
            found += await _model_part(target, tree, model, guidance, found, changed)
        except (ModelReviewError, ModelAPIError) as e:  # the rules' findings still get posted, with the reason
            skipped = f"the model part failed: {e}"
    return place(
        target, merge(found, changed), config, notes=[*notes, *([skipped] if skipped else [])], skipped=skipped
    )


def merge(found: Sequence[Finding], changed: Mapping[str, frozenset[int]]) -> list[Finding]:
    """Only findings on changed lines; one per (path, line, rule); a rule's finding beats the model's on the same
    line (the rule is deterministic and says the same thing every time); ranked by severity, rules first."""
    kept: dict[tuple[str, int, str], Finding] = {}
    ruled = {(f.path, f.line) for f in found if f.source == "rule"}
    for f in found:
        if f.line not in changed.get(f.path, frozenset()) or (f.source == "model" and (f.path, f.line) in ruled):
            continue
        kept.setdefault((f.path, f.line, f.rule), f)
    return sorted(kept.values(), key=lambda f: (f.severity.rank, f.source != "rule", f.path, f.line, f.rule))


def place(
    target: ReviewTarget, findings: list[Finding], config: ReviewConfig, *, notes: list[str], skipped: str | None
) -> Review:
    """Drop what was posted before, anchor the rest on the diff, and write the summary."""
    shown = {d.path: d.right_lines() for d in target.diff}
    fresh = [(f, fp) for f in findings if (fp := f.fingerprint(_text(shown, f))) not in target.posted]
    comments = [
        InlineComment(path=f.path, line=f.line, body=render.comment_body(f, fp), fingerprint=fp)
        for f, fp in fresh
        if f.line in shown.get(f.path, {})
    ][: config.max_inline_comments]
    inline = {(c.path, c.line, c.fingerprint) for c in comments}
    unanchored = [f for f, fp in fresh if (f.path, f.line, fp) not in inline]
    kept = [f for f, _ in fresh]
    counts = count_by_severity(kept)
    scope = "new commits only" if target.only_lines is not None else "whole pull request"
    summary = render.summary_body(target.head_sha, counts, unanchored, scope=scope, notes=notes)
    return Review(
        head_sha=target.head_sha,
        summary=summary,
        comments=comments,
        findings=kept,
        counts=counts,
        skipped_model=skipped,
    )


def _text(shown: Mapping[str, Mapping[int, DiffLine]], f: Finding) -> str:
    line = shown.get(f.path, {}).get(f.line)
    return line.text if line is not None else ""


def _changed_lines(target: ReviewTarget) -> dict[str, frozenset[int]]:
    changed = {d.path: frozenset(d.added) for d in target.diff if not d.deleted}
    if target.only_lines is None:
        return changed
    return {p: lines & target.only_lines.get(p, frozenset()) for p, lines in changed.items()}


async def _sources(
    target: ReviewTarget, tree: SourceTree, changed: Mapping[str, frozenset[int]]
) -> tuple[dict[str, Source], list[str]]:
    """The changed Python files at the head, parsed. A file the tree lacks is taken from the diff if the diff adds
    it whole; otherwise, and for files that do not parse, the rules skip it and the summary says so."""
    sources: dict[str, Source] = {}
    notes: list[str] = []
    for d in target.diff:
        if d.deleted or not d.path.endswith(".py") or not changed.get(d.path):
            continue
        text = await tree.read(d.path)
        text = text if text is not None else (d.new_text() if d.is_new else None)
        src = _parse(d.path, text) if text is not None else None
        if src is None:
            notes.append(f"rules skipped {d.path}: " + ("not valid Python" if text is not None else "file not found"))
        else:
            sources[d.path] = src
    return sources, notes


def _parse(path: str, text: str) -> Source | None:
    try:
        return Source.parse(path, text)
    except (SyntaxError, ValueError):  # ValueError: null bytes. Not Python we can check: the caller notes it.
        return None


async def _model_part(
    target: ReviewTarget,
    tree: SourceTree,
    model: Model,
    guidance: str,
    known: Sequence[Finding],
    changed: Mapping[str, frozenset[int]],
) -> list[Finding]:
    request = review_request(
        marker=f"[review:{target.label}@{target.head_sha[:12]}]",
        title=target.title,
        description=target.description,
        diff_text=target.diff_text,
        known=[f for f in known if f.line in changed.get(f.path, frozenset())],
    )
    report = await model_findings(model, tree, guidance=guidance, request=request)
    return as_findings(report)
