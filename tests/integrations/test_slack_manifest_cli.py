"""`nightshift slack manifest`: it parses, points Slack at our public URL, and asks for exactly the scopes the code
needs (the same list `nightshift doctor` checks a token against)."""

import json
import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from control_plane.cli import main
from integrations.slack.manifest import BOT_EVENTS, BOT_SCOPES, EVENT_SCOPES, METHOD_SCOPES

SLACK_CODE = Path(__file__).resolve().parents[2] / "integrations" / "slack"


def run(*args: str) -> str:
    result = CliRunner().invoke(
        main, ["slack", "manifest", *args], env={"NIGHTSHIFT_PUBLIC_URL": "https://ns.acme.dev"}
    )
    assert result.exit_code == 0, result.output
    return result.stdout  # notes for the person go to stderr


def test_the_yaml_manifest_points_slack_at_the_public_url() -> None:
    data = yaml.safe_load(run())
    assert data["oauth_config"]["scopes"]["bot"] == BOT_SCOPES
    assert data["settings"]["event_subscriptions"] == {
        "bot_events": BOT_EVENTS,
        "request_url": "https://ns.acme.dev/slack/events",
    }
    assert data["settings"]["interactivity"] == {"is_enabled": True, "request_url": "https://ns.acme.dev/slack/events"}
    assert data["settings"]["socket_mode_enabled"] is False


def test_the_socket_mode_variant_has_no_request_urls() -> None:
    data = json.loads(run("--socket-mode", "--format", "json", "--public-url", "http://localhost:8000"))
    assert data["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in data["settings"]["event_subscriptions"]
    assert "request_url" not in data["settings"]["interactivity"]


def test_the_scopes_are_what_the_code_calls_and_subscribes_to() -> None:
    called = set()
    for path in SLACK_CODE.glob("*.py"):
        called |= set(re.findall(r"client\.(\w+)", path.read_text()))
    assert called - set(METHOD_SCOPES) == set(), "a Web API method the manifest does not know: add its scopes"
    needed = set(EVENT_SCOPES.values()) | {s for scopes in METHOD_SCOPES.values() for s in scopes}
    assert set(BOT_SCOPES) == needed
    assert len(BOT_SCOPES) == len(set(BOT_SCOPES))
