"""Unified diffs and where an inline comment can sit (GitHub's `line`/`side` and legacy `position`)."""

import subprocess
from pathlib import Path

import pytest

from reviewer.diff import parse_diff, parse_patch

PATCH = "\n".join(
    [
        "@@ -1,4 +1,5 @@",
        " import os",
        "-import sys",
        "+import json",
        "+import re",
        " ",
        " def f():",
        "@@ -10,3 +11,4 @@ def f():",
        "     a = 1",
        "+    b = 2",
        "     return a",
        "-    # gone",
        "+    # new",
    ]
)


@pytest.mark.parametrize(
    ("line", "position"),
    [(1, 1), (2, 3), (3, 4), (4, 5), (5, 6), (11, 8), (12, 9), (13, 10), (14, 12), (6, None), (10, None), (15, None)],
)
def test_position_counts_every_line_below_the_first_header_including_later_headers(
    line: int, position: int | None
) -> None:
    assert parse_patch("m.py", PATCH).position_of(line) == position


def test_added_lines_are_head_line_numbers() -> None:
    diff = parse_patch("m.py", PATCH)
    assert diff.added == {2: "import json", 3: "import re", 12: "    b = 2", 14: "    # new"}
    assert sorted(diff.right_lines()) == [1, 2, 3, 4, 5, 11, 12, 13, 14]


def test_multi_file_git_diff_with_added_deleted_renamed_files_and_a_removed_dashes_line() -> None:
    text = """diff --git a/new.py b/new.py
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/new.py
@@ -0,0 +1,2 @@
+x = 1
+y = 2
diff --git a/old.py b/old.py
deleted file mode 100644
--- a/old.py
+++ /dev/null
@@ -1 +0,0 @@
--- a comment line that starts with two dashes
diff --git a/a.py b/b.py
similarity index 90%
rename from a.py
rename to b.py
--- a/a.py
+++ b/b.py
@@ -1,2 +1,2 @@
 keep = 1
-old = 2
+new = 2
\\ No newline at end of file
"""
    new, old, renamed = parse_diff(text)
    assert (new.path, new.is_new, new.added) == ("new.py", True, {1: "x = 1", 2: "y = 2"})
    assert new.new_text() == "x = 1\ny = 2\n"
    assert (old.path, old.deleted, old.added) == ("old.py", True, {})
    assert (renamed.path, renamed.old_path, renamed.added) == ("b.py", "a.py", {2: "new = 2"})


def test_real_git_diff_output_round_trips(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    (tmp_path / "m.py").write_text("".join(f"line{i}\n" for i in range(1, 31)))
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    lines = (tmp_path / "m.py").read_text().splitlines()
    lines[2] = "changed3"
    lines.insert(20, "inserted")
    (tmp_path / "m.py").write_text("\n".join(lines) + "\n")
    (diff,) = parse_diff(git("diff"))
    assert diff.added == {3: "changed3", 21: "inserted"}
    assert all(diff.right_lines()[n].text == lines[n - 1] for n in diff.right_lines())
