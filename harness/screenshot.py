"""Screenshots of pages a sandbox serves, taken with headless Chromium, for people reviewing a web change.

Where Chromium runs: in the worker (the brain's side), driven by Playwright, with the system's Chromium
(`/usr/bin/chromium`; Playwright's own browser download is never used). It reaches the page over loopback, which
works because the `local` sandbox shares the host's network namespace (LocalSandboxConfig.network, the default).
A provider with its own network (Modal, or local with network off) needs a Screenshotter that runs Chromium
inside the sandbox instead; the tool only sees this Protocol.

Only loopback URLs are allowed: the tool is for what the sandbox serves, and must not become a way to make the
control plane's machine fetch other hosts. Ports the control plane itself listens on are refused too.
"""

import importlib.util
import os
import tempfile
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel

from harness.errors import ConfigError, SandboxError, ToolInputError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the worker may run as root, where Chromium's own sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Screenshotter(Protocol):
    def check_url(self, url: str) -> None:
        """Raise ToolInputError for a URL this screenshotter must not load."""
        ...

    async def capture(self, url: str, *, width: int, height: int, full_page: bool, timeout_s: float) -> bytes:
        """A PNG of the page at `url` once it has loaded."""
        ...


class ChromiumConfig(BaseModel):
    executable: str = "/usr/bin/chromium"
    """Debian's chromium package. Playwright drives it; its own browser download is never used."""
    blocked_ports: list[int] = []
    """Loopback ports the page may not be on: the control plane's own (API, web UI, Redis)."""


def chromium_available(config: ChromiumConfig) -> bool:
    """Whether this worker can take screenshots at all; without, the tool is not offered."""
    return importlib.util.find_spec("playwright") is not None and os.access(config.executable, os.X_OK)


def check_url(url: str, blocked_ports: list[int]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ToolInputError(f"{url!r}: only http:// and https:// URLs can be captured")
    if (parts.hostname or "") not in LOOPBACK_HOSTS:
        raise ToolInputError(f"{url!r}: only pages the sandbox serves on localhost (127.0.0.1) can be captured")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if port in blocked_ports:
        raise ToolInputError(f"{url!r}: port {port} belongs to the control plane, not to the sandbox")


class PlaywrightScreenshotter:
    """One short-lived Chromium per screenshot: nothing to keep alive between tool calls, nothing shared."""

    def __init__(self, config: ChromiumConfig) -> None:
        self.config = config

    def check_url(self, url: str) -> None:
        check_url(url, self.config.blocked_ports)

    async def capture(self, url: str, *, width: int, height: int, full_page: bool, timeout_s: float) -> bytes:
        try:
            from playwright.async_api import Error as PlaywrightError
            from playwright.async_api import async_playwright
        except ImportError as e:
            raise ConfigError(
                "screenshots need Playwright: pip install 'nightshift[browser]' (and apt-get install chromium)"
            ) from e
        with tempfile.TemporaryDirectory(prefix="nightshift-chromium-") as home:
            async with async_playwright() as p:
                try:
                    browser = await p.chromium.launch(
                        executable_path=self.config.executable,
                        args=CHROMIUM_ARGS,
                        # Built from nothing: the worker's environment holds the platform's keys.
                        env={"PATH": "/usr/bin:/bin", "HOME": home},
                        timeout=timeout_s * 1000,
                    )
                except PlaywrightError as e:
                    raise SandboxError(f"cannot start Chromium at {self.config.executable}: {e.message}") from e
                try:
                    page = await browser.new_page(viewport={"width": width, "height": height})
                    await page.goto(url, wait_until="load", timeout=timeout_s * 1000)
                    return await page.screenshot(full_page=full_page, type="png", timeout=timeout_s * 1000)
                except PlaywrightError as e:
                    raise SandboxError(f"could not capture {url}: {e.message.splitlines()[0]}") from e
                finally:
                    await browser.close()
