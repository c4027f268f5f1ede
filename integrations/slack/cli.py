"""`nightshift slack manifest`: the Slack app manifest to create the app from (api.slack.com/apps)."""

import json
import os
from pathlib import Path

import click
import yaml

from control_plane.config import Settings
from integrations.slack.manifest import manifest


@click.group()
def slack() -> None:
    """Connect Slack."""


@slack.command("manifest")
@click.option("--socket-mode", is_flag=True, help="No public URL: events come over Socket Mode (SLACK_APP_TOKEN).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--public-url", default=None, help="Where Slack reaches Nightshift (default: NIGHTSHIFT_PUBLIC_URL).")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML settings file.")
def manifest_command(socket_mode: bool, fmt: str, public_url: str | None, config: Path | None) -> None:
    """Print the app manifest: paste it at api.slack.com/apps > Create New App > From a manifest."""
    url = public_url or Settings.load(os.environ, config).public_url
    if not socket_mode and not url.startswith("https://"):
        click.echo(
            f"note: Slack only sends events to an https:// URL; {url} is not one (or use --socket-mode)", err=True
        )
    data = manifest(url, socket_mode=socket_mode)
    text = json.dumps(data, indent=2) if fmt == "json" else yaml.safe_dump(data, sort_keys=False, width=120)
    click.echo(text.rstrip("\n"))
    if socket_mode:
        click.echo(
            "then: Basic Information > App-Level Tokens > a token with connections:write = SLACK_APP_TOKEN", err=True
        )
