"""The pure parts of the Slack integration: reading a request's text, folding long output."""

import json
from pathlib import Path

import pytest

from integrations.slack.format import code_block, fold, thread_context
from integrations.slack.manifest import manifest
from integrations.slack.task import Task, is_stop, parse_task, repo_location


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U0BOT> fix the login bug", Task("fix the login bug", None)),
        ("<@U0BOT> repo=acme/api fix it", Task("fix it", "acme/api")),
        (
            "<@U0BOT> fix it repo=<https://github.com/acme/api|github.com/acme/api>",
            Task("fix it", "https://github.com/acme/api"),
        ),
        ("<@U0BOT|nightshift> x &lt; y &amp;&amp; y &gt; z", Task("x < y && y > z", None)),
        ("<@U0BOT> repo=/srv/git/calc.git", Task("", "/srv/git/calc.git")),
        ("<@U0BOT> two\nlines  here", Task("two\nlines here", None)),
    ],
)
def test_parse_task(text: str, expected: Task) -> None:
    assert parse_task(text) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("acme/api", "https://github.com/acme/api.git"),
        ("acme/api.git", "https://github.com/acme/api.git"),
        ("https://gitlab.example/acme/api.git", "https://gitlab.example/acme/api.git"),
        ("/srv/git/calc.git", "/srv/git/calc.git"),
    ],
)
def test_repo_location(spec: str, expected: str) -> None:
    assert repo_location(spec, "https://github.com") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("stop", True), ("<@U0BOT> Stop!", True), ("cancel.", True), ("stop using floats", False), ("", False)],
)
def test_is_stop(text: str, expected: bool) -> None:
    assert is_stop(text) is expected


def test_fold_keeps_short_text_and_closes_an_open_code_block() -> None:
    assert fold("short", more_url="u") == "short"
    long = "summary\n```\n" + "\n".join(f"line {i}" for i in range(2000)) + "\n```"
    folded = fold(long, 300, more_url="https://ns/sessions/1")
    assert len(folded) < 400
    assert folded.count("```") == 2
    assert folded.endswith("more characters in <https://ns/sessions/1|the session>")


def test_code_block_cannot_be_closed_from_inside() -> None:
    assert code_block("a\n```\nb").count("```") == 2


def test_thread_context_keeps_the_newest_messages_within_the_limit() -> None:
    messages = [("U1", "old " * 50), ("U2", "newer"), ("U3", "newest")]
    context = thread_context(messages, limit_bytes=40)
    assert "[earlier messages left out]" in context
    assert "<@U2>: newer\n<@U3>: newest" in context
    assert "old" not in context


def test_the_readme_carries_the_current_manifest() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert json.dumps(manifest("https://nightshift.example.com"), indent=2) in readme
