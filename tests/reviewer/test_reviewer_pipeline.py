"""The pipeline on a diff and a checkout: rules, the model (the scripted Anthropic stand-in, never a real model),
merging, de-duplication against earlier reviews, and placing findings on the diff."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.anthropic_config import AnthropicConfig
from harness.anthropic_model import AnthropicModel
from harness.errors import ConfigError
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, ScriptedAnswer, tool_use
from reviewer.config import ReviewConfig, load_review_config
from reviewer.diff import parse_diff
from reviewer.local import review_diff
from reviewer.models import Finding, Severity
from reviewer.pipeline import ReviewTarget, merge, place
from reviewer.render import posted_fingerprints, reviewed_head

BEFORE = "import logging\n\nlog = logging.getLogger(__name__)\n\n\ndef load(path):\n    return open(path).read()\n"
AFTER = (
    "import logging\n\nlog = logging.getLogger(__name__)\n\n\ndef load(path):\n"
    "    try:\n        return open(path).read()\n"
    "    except Exception:\n        pass\n\n\ndef size(path):\n    return len(load(path))\n"
)


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A git checkout whose working tree has AFTER over a committed BEFORE, and the diff between them."""
    repo = tmp_path / "repo"
    repo.mkdir()
    sh(repo, "git", "init", "-q")
    (repo / "app.py").write_text(BEFORE)
    (repo / ".nightshift").mkdir()
    (repo / ".nightshift" / "review.md").write_text("Care about error handling. Ignore naming.\n")
    sh(repo, "git", "add", ".")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    (repo / "app.py").write_text(AFTER)
    diff = tmp_path / "change.diff"
    diff.write_text(sh(repo, "git", "diff"))
    yield repo, diff


async def test_rules_only_without_a_model(checkout: tuple[Path, Path]) -> None:
    repo, diff = checkout
    result = await review_diff(diff, repo, None)
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("swallowed-exception", "app.py", 9)]
    assert [(c.path, c.line) for c in result.comments] == [("app.py", 9)]
    assert result.skipped_model == "the model part was skipped (no model configured)"
    assert "model part was skipped" in result.summary
    assert reviewed_head(result.summary) is None, "only a real commit is recorded as reviewed"


async def test_a_rule_turned_off_in_the_repo_config_reports_nothing(checkout: tuple[Path, Path]) -> None:
    repo, diff = checkout
    (repo / ".nightshift" / "config").write_text("[review.rules]\nswallowed-exception = false\n")
    assert (await review_diff(diff, repo, None)).findings == []


def test_an_unknown_rule_in_the_config_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown rule.*no-such-rule"):
        load_review_config("[review.rules]\nno-such-rule = false\n")


async def test_without_the_repo_only_files_the_diff_adds_whole_are_checked(tmp_path: Path) -> None:
    diff = tmp_path / "new.diff"
    diff.write_text("--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,4 @@\n+try:\n+    x()\n+except:\n+    pass\n")
    result = await review_diff(diff, None, None)
    assert [(f.rule, f.line) for f in result.findings] == [("swallowed-exception", 3)]


def model_for(standin: AnthropicStandIn) -> AnthropicModel:
    return AnthropicModel(AnthropicConfig(api_key="test-key", base_url=standin.base_url, max_retries=0))


async def test_the_model_reads_code_and_reports_through_the_tool(checkout: tuple[Path, Path]) -> None:
    repo, diff = checkout

    def report(request: RecordedRequest) -> ScriptedAnswer:
        (result,) = request.tool_results()
        assert "   14      return len(load(path))" in result.text  # read_file answered with numbered lines
        findings = [
            {"path": "app.py", "line": 13, "severity": "warning", "message": "size() reads the whole file."},
            {"path": "app.py", "line": 9, "severity": "error", "message": "Swallowed (the rule said so already)."},
            {"path": "app.py", "line": 1, "severity": "info", "message": "Unchanged line: dropped."},
        ]
        return Reply(tool_use("report_findings", {"findings": findings, "summary": "One risk."}))

    script = Script([Reply(tool_use("read_file", {"path": "app.py", "start_line": 10})), report], key="change.diff")
    with AnthropicStandIn(script) as standin:
        model = model_for(standin)
        result = await review_diff(diff, repo, model)
        await model.close()
    standin.assert_all_consumed()
    first = standin.requests[0]
    assert "Care about error handling" in json.dumps(first.system)
    assert "+    except Exception:" in first.user_text()
    assert "[swallowed-exception]" in first.user_text(), "the model is told what the rules found"
    assert [(f.rule, f.line, f.severity) for f in result.findings] == [
        ("swallowed-exception", 9, Severity.error),
        ("model", 13, Severity.warning),
    ]
    assert result.skipped_model is None


async def test_a_bad_report_is_sent_back_to_the_model_to_correct(checkout: tuple[Path, Path]) -> None:
    repo, diff = checkout
    bad = {"findings": [{"path": "app.py", "line": 0, "severity": "fatal", "message": ""}]}
    good = {"findings": [{"path": "app.py", "line": 13, "severity": "info", "message": "Fine now."}]}

    def retry(request: RecordedRequest) -> ScriptedAnswer:
        (result,) = request.tool_results()
        assert result.is_error and "invalid input" in result.text
        return Reply(tool_use("report_findings", good))

    with AnthropicStandIn(Script([Reply(tool_use("report_findings", bad)), retry])) as standin:
        model = model_for(standin)
        result = await review_diff(diff, repo, model)
        await model.close()
    assert [(f.rule, f.line) for f in result.findings] == [("swallowed-exception", 9), ("model", 13)]


async def test_a_model_that_never_reports_leaves_the_rules_findings_and_says_why(checkout: tuple[Path, Path]) -> None:
    repo, diff = checkout
    with AnthropicStandIn(Script([Reply("I think it is fine.")] * 8)) as standin:
        model = model_for(standin)
        result = await review_diff(diff, repo, model)
        await model.close()
    assert [f.rule for f in result.findings] == ["swallowed-exception"]
    assert result.skipped_model == "the model part failed: the model did not call report_findings within 8 steps"


def finding(line: int, rule: str = "swallowed-exception", source: str = "rule", severity: str = "error") -> Finding:
    return Finding(rule=rule, severity=Severity(severity), path="app.py", line=line, message="m", source=source)  # type: ignore[arg-type]


def test_merge_keeps_changed_lines_one_per_rule_rules_over_model_and_ranks() -> None:
    changed = {"app.py": frozenset({3, 5, 7})}
    found = [
        finding(7, "narrating-comment", severity="info"),
        finding(5, "model", "model", "warning"),
        finding(3, "model", "model", "error"),
        finding(3),
        finding(3),
        finding(9),
    ]
    assert [(f.line, f.rule) for f in merge(found, changed)] == [
        (3, "swallowed-exception"),
        (5, "model"),
        (7, "narrating-comment"),
    ]


def test_findings_posted_on_an_earlier_commit_are_not_posted_again_even_when_their_line_moved() -> None:
    old = parse_diff("--- a/app.py\n+++ b/app.py\n@@ -1,1 +1,2 @@\n keep\n+    except Exception:\n")
    new = parse_diff("--- a/app.py\n+++ b/app.py\n@@ -1,1 +1,3 @@\n keep\n+x = 1\n+    except Exception:\n")
    config = ReviewConfig()
    first = place(ReviewTarget("r", "a" * 40, old, ""), [finding(2)], config, notes=[], skipped=None)
    posted = frozenset(fp for c in first.comments for fp in posted_fingerprints(c.body))
    again = place(
        ReviewTarget("r", "b" * 40, new, "", posted=posted),
        [finding(3), finding(2, "x")],
        config,
        notes=[],
        skipped=None,
    )
    assert [(c.line, c.body.split("`")[1]) for c in again.comments] == [(2, "x")]


def test_inline_comments_carry_severity_reason_suggestion_and_never_a_mention() -> None:
    diff = parse_diff("--- a/a.py\n+++ b/a.py\n@@ -0,0 +1,1 @@\n+v = getattr(j, 'x', 1)\n")
    f = Finding(
        rule="defensive-getattr",
        severity=Severity.warning,
        path="a.py",
        line=1,
        message="ask @nightshift fix",
        suggestion="v = j.x",
    )
    (comment,) = place(ReviewTarget("r", "c" * 40, diff, ""), [f], ReviewConfig(), notes=[], skipped=None).comments
    assert comment.body.startswith("🟡 **warning** · `defensive-getattr`")
    assert "```suggestion\nv = j.x\n```" in comment.body
    assert "@nightshift" not in comment.body
