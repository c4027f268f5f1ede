"""Unified diffs: parse `git diff` output or GitHub's per-file patches, and map a head line to where a review
comment can sit on it.

GitHub anchors an inline comment either by `line` + `side` (the line number in the head or base file) or, in the
older API, by `position`: the number of lines below the file's first `@@` header, counting every later header and
every line of every hunk."""

import re
from dataclasses import dataclass, field
from typing import Literal

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_GIT_HEADER = re.compile(r"^diff --git a/(.*) b/(.*)$")

LineKind = Literal["+", "-", " "]


@dataclass(frozen=True)
class DiffLine:
    kind: LineKind
    text: str
    old_line: int | None
    new_line: int | None
    position: int


@dataclass
class FileDiff:
    path: str
    """The head path; for a deleted file, the base path."""
    old_path: str | None = None
    deleted: bool = False
    lines: list[DiffLine] = field(default_factory=list)

    @property
    def added(self) -> dict[int, str]:
        """Head line number → text, for the lines this diff adds."""
        return {ln.new_line: ln.text for ln in self.lines if ln.kind == "+" and ln.new_line is not None}

    @property
    def is_new(self) -> bool:
        return self.old_path is None and not self.deleted

    def right_lines(self) -> dict[int, DiffLine]:
        """Head lines shown in the diff (added or context): the ones GitHub accepts a RIGHT-side comment on."""
        return {ln.new_line: ln for ln in self.lines if ln.kind != "-" and ln.new_line is not None}

    def position_of(self, new_line: int) -> int | None:
        shown = self.right_lines().get(new_line)
        return shown.position if shown else None

    def new_text(self) -> str:
        """The head file as far as the diff shows it: the whole file when the diff adds it."""
        return "".join(ln.text + "\n" for ln in self.lines if ln.kind != "-")


def parse_patch(path: str, patch: str, *, old_path: str | None = "", deleted: bool = False) -> FileDiff:
    """One file's hunks, as in GitHub's `files[].patch` (no `diff --git` header). old_path "" means same as path."""
    diff = FileDiff(path=path, old_path=path if old_path == "" else old_path, deleted=deleted)
    _read_hunks(diff, patch.splitlines())
    return diff


def parse_diff(text: str) -> list[FileDiff]:
    """Every file of a multi-file unified diff (`git diff`, `git format-patch`, `diff -u` with ---/+++ headers)."""
    files: list[FileDiff] = []
    chunk: list[str] = []
    for raw in text.splitlines():
        if (raw.startswith("diff --git ") or (raw.startswith("--- ") and not _in_hunks(chunk))) and _has_hunks(chunk):
            files.append(_file(chunk))
            chunk = []
        chunk.append(raw)
    if _has_hunks(chunk):
        files.append(_file(chunk))
    return files


def _has_hunks(chunk: list[str]) -> bool:
    return any(line.startswith("@@") for line in chunk)


def _in_hunks(chunk: list[str]) -> bool:
    """A `--- ` line is a removed line starting with `-- ` while we are inside a hunk with lines still due."""
    return _has_hunks(chunk) and _due(chunk) > 0


def _due(chunk: list[str]) -> int:
    """Lines the last hunk header announced that have not been seen yet."""
    start = max(i for i, line in enumerate(chunk) if line.startswith("@@"))
    m = _HUNK.match(chunk[start])
    assert m is not None
    old_len, new_len = int(m[2] or 1), int(m[4] or 1)
    body = chunk[start + 1 :]
    old_seen = sum(1 for line in body if line[:1] in ("-", " ", ""))
    new_seen = sum(1 for line in body if line[:1] in ("+", " ", ""))
    return max(old_len - old_seen, new_len - new_seen)


def _file(chunk: list[str]) -> FileDiff:
    old = new = None
    header = _GIT_HEADER.match(chunk[0])
    if header:
        old, new = header[1], header[2]
    for line in chunk:
        if line.startswith("@@"):
            break
        if line.startswith("--- "):
            old = _strip_prefix(line[4:], "a/")
        elif line.startswith("+++ "):
            new = _strip_prefix(line[4:], "b/")
    assert old is not None or new is not None, "a file diff without a name"
    deleted = new is None
    diff = FileDiff(path=new or old or "", old_path=old, deleted=deleted)
    _read_hunks(diff, chunk[next(i for i, line in enumerate(chunk) if line.startswith("@@")) :])
    return diff


def _strip_prefix(name: str, prefix: str) -> str | None:
    name = name.split("\t")[0]
    if name == "/dev/null":
        return None
    return name.removeprefix(prefix)


def _read_hunks(diff: FileDiff, lines: list[str]) -> None:
    position = 0
    old_no = new_no = 0
    started = False
    for raw in lines:
        m = _HUNK.match(raw)
        if m:
            # The first header is position 0; every later header takes a position of its own.
            position = position + 1 if started else 0
            started = True
            old_no, new_no = int(m[1]), int(m[3])
            continue
        if not started or raw.startswith("\\"):  # "\ No newline at end of file" is not a line of either side
            continue
        position += 1
        kind: LineKind = raw[0] if raw[:1] in ("+", "-") else " "  # type: ignore[assignment]
        text = raw[1:]
        diff.lines.append(
            DiffLine(
                kind=kind,
                text=text,
                old_line=old_no if kind != "+" else None,
                new_line=new_no if kind != "-" else None,
                position=position,
            )
        )
        old_no += kind != "+"
        new_no += kind != "-"
