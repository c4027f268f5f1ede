"""What every `nightshift` command group shares: the consoles, the --config option, and running a command so that
our own errors become one clear line and exit status 2."""

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console
from rich.markup import escape

from harness.errors import NightshiftError

T = TypeVar("T")
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
config_option = click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML settings file (or NIGHTSHIFT_CONFIG)."
)


def run_command(coro: Coroutine[None, None, T]) -> T:
    """Run a command; our own errors become one clear line and exit status 2."""
    try:
        return asyncio.run(coro)
    except NightshiftError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        sys.exit(2)
