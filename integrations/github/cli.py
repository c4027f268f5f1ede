"""`nightshift github setup`: create the GitHub App from its manifest and save its credentials."""

import asyncio
import os
import sys
from pathlib import Path

import click

from control_plane.config import Settings
from harness.errors import ConfigError
from integrations.github.app_manifest import permission_table
from integrations.github.config import web_url_of
from integrations.github.setup import run_setup


@click.group()
def github() -> None:
    """Connect GitHub."""


@github.command("permissions")
def permissions() -> None:
    """Print the App's repository permissions as the README's Markdown table (made from the App manifest)."""
    click.echo(permission_table())


@github.command("setup")
@click.option("--org", default=None, help="Create the App in this organisation (default: your own account).")
@click.option("--name", default="nightshift", show_default=True, help="The App's name; people mention @NAME.")
@click.option("--public-url", default=None, help="Where GitHub reaches Nightshift (default: NIGHTSHIFT_PUBLIC_URL).")
@click.option("--port", type=int, default=0, help="Local port of the setup page (default: any free port).")
@click.option("--out-dir", type=click.Path(path_type=Path, file_okay=False), help="Default: the data dir.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML settings file.")
def setup(
    org: str | None, name: str, public_url: str | None, port: int, out_dir: Path | None, config: Path | None
) -> None:
    """Open the printed local URL in a browser, review the App on GitHub and create it; its id, private key and
    webhook secret are saved to DATA_DIR/github-app.env (mode 0600)."""
    settings = Settings.load(os.environ, config)
    url = public_url or settings.public_url
    if not url.startswith("https://"):
        click.echo(
            f"note: GitHub delivers webhooks to {url}/webhooks/github; it must be reachable from GitHub", err=True
        )
    try:
        saved = asyncio.run(
            run_setup(
                name=name,
                public_url=url,
                web_url=web_url_of(settings.github_api_url),
                api_url=settings.github_api_url,
                org=org,
                out_dir=out_dir or settings.data_dir,
                port=port,
                announce=lambda page: click.echo(f"open {page} in a browser to create the GitHub App"),
            )
        )
    except ConfigError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    click.echo(f"created the App {saved.app.slug} (id {saved.app.id}); credentials in {saved.env_file} (mode 0600)")
    click.echo(f"load them with `set -a; . {saved.env_file}; set +a` (or `docker run --env-file {saved.env_file}`)")
    click.echo(f"next: install the App on your repositories: {saved.app.html_url}/installations/new")
    click.echo("then: nightshift doctor")
