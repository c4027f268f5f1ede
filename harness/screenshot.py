"""Screenshots of pages a sandbox serves, taken with headless Chromium, for people reviewing a web change.

Where Chromium runs: started by the worker (the brain's side), driven by Playwright over pipes, with the system's
Chromium (`/usr/bin/chromium`; Playwright's own browser download is never used), but inside the sandbox's own
network namespace: the sandbox hands over a SandboxLoopback, whose `enter_argv` prefix (nsenter) a small wrapper
puts before Chromium. The page is reached over the sandbox's loopback, and the host's (Redis, the API) is out of
Chromium's reach. A provider without that capability (Modal) gets no screenshot tool.

Only loopback http(s) URLs are allowed, for the first URL and for every request and navigation after it (a
redirect, a frame, a subresource): anything else is aborted and the screenshot refused with the reason. Ports the
control plane listens on are refused too (they matter where the sandbox shares the host's network: isolation none).
"""

import importlib.util
import os
import shlex
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel

from harness.errors import ConfigError, SandboxError, ToolInputError
from harness.sandboxes.base import SandboxLoopback

if TYPE_CHECKING:
    from playwright.async_api import Page, Request, Route

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
    "--no-proxy-server",
]
_HARMLESS_SCHEMES = frozenset({"data", "blob"})
"""Inline content: fine for an image or a font, refused as a document (a data: page is not what the sandbox serves)."""
_NOT_FETCHED = frozenset({"about:blank", "about:srcdoc", "chrome-error://chromewebdata/"})
"""Frame URLs that load nothing: an empty frame, and the page Chromium shows for an aborted navigation."""


class Screenshotter(Protocol):
    def check_url(self, url: str) -> None:
        """Raise ToolInputError for a URL this screenshotter must not load."""
        ...

    async def capture(
        self, url: str, loopback: SandboxLoopback, *, width: int, height: int, full_page: bool, timeout_s: float
    ) -> bytes:
        """A PNG of the page at `url`, loaded over the sandbox's loopback, once it has loaded."""
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
    problem = url_problem(url, blocked_ports)
    if problem is not None:
        raise ToolInputError(f"{url!r}: {problem}")


def url_problem(url: str, blocked_ports: list[int]) -> str | None:
    """Why the page may not load `url`, or None for a page the sandbox serves on its loopback."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "only http:// and https:// URLs can be captured"
    if (parts.hostname or "") not in LOOPBACK_HOSTS:
        return "only pages the sandbox serves on localhost (127.0.0.1) can be captured"
    if port in blocked_ports:
        return f"port {port} belongs to the control plane, not to the sandbox"
    return None


def served_port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


class _Guard:
    """Every request and navigation of the page, checked: a refused first hop is aborted; a redirect (which
    Playwright's routing never shows) is noticed and the screenshot refused."""

    def __init__(self, blocked_ports: list[int]) -> None:
        self._blocked_ports = blocked_ports
        self.refused: list[str] = []

    async def watch(self, page: "Page") -> None:
        page.on("request", self._on_request)
        page.on("framenavigated", lambda frame: self._check_document(frame.url))
        await page.route("**/*", self._on_route)

    def _problem(self, url: str, resource_type: str) -> str | None:
        scheme = url.partition(":")[0].lower()
        if scheme in _HARMLESS_SCHEMES and resource_type != "document":
            return None
        return url_problem(url, self._blocked_ports)

    def _note(self, url: str, problem: str) -> None:
        shown = url if len(url) <= 200 else url[:200] + "..."
        if not any(r.startswith(shown + ":") for r in self.refused):
            self.refused.append(f"{shown}: {problem}")

    def _on_request(self, request: "Request") -> None:
        problem = self._problem(request.url, request.resource_type)
        if problem is not None:
            self._note(request.url, problem)

    def _check_document(self, url: str) -> None:
        if url not in _NOT_FETCHED and (problem := self._problem(url, "document")) is not None:
            self._note(url, problem)

    async def _on_route(self, route: "Route") -> None:
        if self._problem(route.request.url, route.request.resource_type) is None:
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    def check(self, url: str) -> None:
        if self.refused:
            raise SandboxError(
                f"refused to capture {url}: the page tried to load what the sandbox does not serve on its loopback "
                f"({'; '.join(self.refused[:3])})"
            )


class PlaywrightScreenshotter:
    """One short-lived Chromium per screenshot: nothing to keep alive between tool calls, nothing shared."""

    def __init__(self, config: ChromiumConfig) -> None:
        self.config = config

    def check_url(self, url: str) -> None:
        check_url(url, self.config.blocked_ports)

    async def capture(
        self, url: str, loopback: SandboxLoopback, *, width: int, height: int, full_page: bool, timeout_s: float
    ) -> bytes:
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
                        executable_path=_in_sandbox_network(self.config.executable, loopback, Path(home)),
                        args=CHROMIUM_ARGS,
                        # Built from nothing: the worker's environment holds the platform's keys.
                        env={"PATH": "/usr/bin:/bin", "HOME": home},
                        timeout=timeout_s * 1000,
                    )
                except PlaywrightError as e:
                    raise SandboxError(f"cannot start Chromium at {self.config.executable}: {e.message}") from e
                guard = _Guard(self.config.blocked_ports)
                try:
                    # Service workers could answer requests out of the guard's sight.
                    context = await browser.new_context(
                        viewport={"width": width, "height": height}, service_workers="block"
                    )
                    page = await context.new_page()
                    await guard.watch(page)
                    try:
                        await page.goto(url, wait_until="load", timeout=timeout_s * 1000)
                    except PlaywrightError as e:
                        guard.check(url)  # an aborted redirect is the reason, not the failed load
                        raise SandboxError(f"could not capture {url}: {e.message.splitlines()[0]}") from e
                    guard.check(url)
                    png = await page.screenshot(full_page=full_page, type="png", timeout=timeout_s * 1000)
                    guard.check(url)  # what loaded while the screenshot was being taken
                    return png
                except PlaywrightError as e:
                    raise SandboxError(f"could not capture {url}: {e.message.splitlines()[0]}") from e
                finally:
                    await browser.close()


def _in_sandbox_network(executable: str, loopback: SandboxLoopback, home: Path) -> str:
    """The program Playwright starts: Chromium itself, or a wrapper that enters the sandbox's network first
    (Playwright talks to Chromium over inherited pipes, which exec keeps)."""
    prefix = loopback.enter_argv()
    if not prefix:
        return executable
    wrapper = home / "chromium-in-sandbox"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join([*prefix, executable])} "$@"\n')
    wrapper.chmod(0o700)
    return str(wrapper)
