"""Each deterministic rule against code that should and should not trigger it."""

import textwrap

import pytest

from reviewer.models import Severity
from reviewer.rules import ALL_RULES, Rule
from reviewer.rules._base import Source
from reviewer.rules.index import build_index

RULES = {r.id: r for r in ALL_RULES}


def run(rule_id: str, code: str, *, path: str = "pkg/mod.py", context: dict[str, str] | None = None) -> list[int]:
    """Lines the rule flags in `code`, with `context` (path → code) as the rest of the repository."""
    src = Source.parse(path, textwrap.dedent(code))
    others = [Source.parse(p, textwrap.dedent(c)) for p, c in (context or {}).items()]
    rule: Rule = RULES[rule_id]
    return [f.line for f in rule.check(src, build_index([src, *others]))]


CLASS_A = """
class Job:
    retries: int = 0
    def __init__(self):
        self.timeout_s = 3
    def cancel(self): ...
"""


@pytest.mark.parametrize(
    ("code", "lines"),
    [
        (CLASS_A + "def f(j):\n    return getattr(j, 'timeout_s', 10)\n", [8]),
        (CLASS_A + "def f(j):\n    return hasattr(j, 'cancel')\n", [8]),
        (CLASS_A + "def f(j):\n    return getattr(j, 'retries')\n", [8]),
        (CLASS_A + "def f(j):\n    return getattr(j, 'unknown_thing', 1)\n", []),
        (CLASS_A + "def f(j, name):\n    return getattr(j, name)\n", []),
        (CLASS_A + "def f(j):\n    return j.timeout_s\n", []),
    ],
)
def test_defensive_getattr(code: str, lines: list[int]) -> None:
    assert run("defensive-getattr", code) == lines


def test_defensive_getattr_on_self_sees_attributes_defined_in_other_files_and_suggests_the_plain_access() -> None:
    src = Source.parse("a.py", "class K(Job):\n    def f(self):\n        return getattr(self, 'timeout_s', 10) + 1\n")
    index = build_index([src, Source.parse("b.py", CLASS_A)])
    (finding,) = RULES["defensive-getattr"].check(src, index)
    assert finding.suggestion == "        return self.timeout_s + 1"
    assert "b.py:Job" in finding.message


def test_defensive_getattr_ignores_a_common_name_defined_only_in_another_file_on_another_object() -> None:
    src = Source.parse("a.py", "def f(j):\n    return getattr(j, 'timeout_s', 10)\n")
    assert list(RULES["defensive-getattr"].check(src, build_index([src, Source.parse("b.py", CLASS_A)]))) == []


@pytest.mark.parametrize(
    ("path", "code", "lines"),
    [
        ("pkg/old.py", '"""Moved."""\nfrom pkg.new import thing, other\n__all__ = ["thing", "other"]\n', [2]),
        ("pkg/m.py", "import os\nfrom pkg.new import thing  # backwards compatibility\nX = 1\n", [2]),
        ("pkg/m.py", "import os\n# re-exported for old callers\nfrom pkg.new import thing\nX = 1\n", [3]),
        ("pkg/m.py", "import os\nfrom pkg.new import thing as thing\nX = 1\n", [2]),
        ("pkg/__init__.py", "from pkg.new import thing\n", []),
        ("pkg/m.py", "from pkg.new import thing\n\ndef f():\n    return thing()\n", []),
        ("pkg/m.py", "import os  # noqa\nfrom pkg.new import thing as t\nx = 1\n", []),
    ],
)
def test_reexport_shim(path: str, code: str, lines: list[int]) -> None:
    assert run("reexport-shim", code, path=path) == lines


@pytest.mark.parametrize(
    ("code", "lines"),
    [
        ("from typing import Any\ndef load(p: str) -> dict[str, Any]: ...\n", [2]),
        ("from typing import Any\ndef save(data: Dict[str, Any]) -> None: ...\n", [2]),
        ("import typing\ndef f(x: typing.Any) -> None: ...\n", [2]),
        ("def f() -> tuple[int, str, float]: ...\n", [1]),
        ("def f(x: dict[str, object] | None) -> None: ...\n", [1]),
        ("class C:\n    def run(self, opts: dict[str, Any]) -> None: ...\n", [2]),
        ("def _private(x: dict[str, Any]) -> None: ...\n", []),
        ("class _Hidden:\n    def run(self, opts: dict[str, Any]) -> None: ...\n", []),
        ("def f() -> tuple[int, str]: ...\n", []),
        ("def f() -> tuple[int, ...]: ...\n", []),
        ("def f(x: dict[str, int]) -> list[str]: ...\n", []),
    ],
)
def test_any_boundary(code: str, lines: list[int]) -> None:
    assert run("any-boundary", code) == lines


@pytest.mark.parametrize(
    ("code", "lines", "severity"),
    [
        ("try:\n    x()\nexcept:\n    pass\n", [3], Severity.error),
        ("try:\n    x()\nexcept Exception:\n    ...\n", [3], Severity.error),
        ("for i in y:\n    try:\n        x()\n    except BaseException:\n        continue\n", [4], Severity.error),
        ("try:\n    x()\nexcept (ValueError, Exception) as e:\n    return None\n", [3], Severity.error),
        ("try:\n    x()\nexcept Exception as e:\n    logger.warning('x failed: %s', e)\n", [3], Severity.warning),
        ("try:\n    x()\nexcept Exception:\n    print('oops')\n    pass\n", [3], Severity.warning),
        ("try:\n    x()\nexcept Exception:\n    logger.exception('x')\n    raise\n", [], None),
        ("try:\n    x()\nexcept KeyError:\n    pass\n", [], None),
        ("try:\n    x()\nexcept Exception as e:\n    raise Failed() from e\n", [], None),
        ("try:\n    x()\nexcept Exception:\n    return fallback()\n", [], None),
    ],
)
def test_swallowed_exception(code: str, lines: list[int], severity: Severity | None) -> None:
    code = "def f():\n" + textwrap.indent(code, "    ") if "return" in code else code
    offset = 1 if code.startswith("def f") else 0
    src = Source.parse("m.py", code)
    found = list(RULES["swallowed-exception"].check(src, build_index([src])))
    assert [f.line - offset for f in found] == lines
    assert all(f.severity == severity for f in found)


HELPER = """
def human_size(n):
    units = ["B", "KB", "MB"]
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.1f}{units[i]}"
"""


RENAMED = """
def fmt_bytes(size):
    names = ["B", "KB", "MB"]
    k = 0
    while size >= 1024 and k < len(names) - 1:
        size /= 1024
        k += 1
    return f"{size:.1f}{names[k]}"
"""


@pytest.mark.parametrize(
    ("code", "lines"),
    [
        (RENAMED, [2]),
        (HELPER.replace("human_size", "copy_of_it"), [2]),
        ('\ndef size_text(n):\n    """Docstrings do not count."""\n' + HELPER.split(":\n", 1)[1], [2]),
        (HELPER.replace("1024", "1000"), []),
        ("\ndef tiny(x):\n    return x + 1\n", []),
    ],
)
def test_duplicate_helper(code: str, lines: list[int]) -> None:
    context = {"util/fmt.py": HELPER, "util/tiny.py": "def inc(y):\n    return y + 1\n"}
    assert run("duplicate-helper", code, context=context) == lines


@pytest.mark.parametrize(
    ("code", "lines"),
    [
        ("def f(counter):\n    # increment the counter\n    counter += 1\n", [2]),
        ("# loop over the items\nfor item in items:\n    pass\n", [1]),
        ("# create the user session\nsession = create_session(user)\n", [1]),
        ("# call the fetch data function\nresult = fetchData()\n", [1]),
        ("# retry: the API drops the first request after idle\nresult = fetch_data()\n", []),
        ("# because the cache may be stale, read the session again\nsession = read_session()\n", []),
        ("x = 1  # set x to one\n", []),
        ("# noqa: E501\nsession = create_session(user)\n", []),
        ("# session\nsession = create_session(user)\n", []),
    ],
)
def test_narrating_comment(code: str, lines: list[int]) -> None:
    assert run("narrating-comment", code) == lines


def test_a_narrating_comment_comes_with_a_deleting_suggestion() -> None:
    src = Source.parse("m.py", "# increment the counter\ncounter += 1\n")
    (finding,) = RULES["narrating-comment"].check(src, build_index([src]))
    assert finding.suggestion == ""


def test_every_rule_has_a_unique_id_and_a_summary() -> None:
    assert len(RULES) == len(ALL_RULES) == 6
    assert all(r.summary for r in ALL_RULES)
