"""`nightshift github setup`: create the GitHub App from its manifest, through a page served on 127.0.0.1.

The page POSTs the manifest to GitHub's "new App" page; the person reviews it and clicks Create; GitHub redirects
back to our /callback with a one-time code (and the `state` we sent, checked), which we exchange for the App's id,
private key and webhook secret. They are written to two files only the owner can read.
"""

import asyncio
import html
import os
import secrets
import shlex
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from harness.errors import ConfigError
from integrations.github.app_manifest import AppCredentials, AppManifest, app_manifest, convert, new_app_url

ENV_FILE = "github-app.env"
_FORM = """<!doctype html><title>Create the Nightshift GitHub App</title>
<form method="post" action="{action}">
<p>This creates the GitHub App <b>{name}</b> with the permissions and webhook events Nightshift needs.
You can review everything on GitHub before creating it.</p>
<input type="hidden" name="manifest" value="{manifest}">
<button type="submit">Continue to GitHub</button>
</form>"""
_DONE = """<!doctype html><title>Nightshift GitHub App created</title>
<p>The App <b>{slug}</b> is created and its credentials are saved. Now install it on the repositories Nightshift
may work on: <a href="{install}">{install}</a>. You can close this tab.</p>"""


@dataclass(frozen=True)
class SavedApp:
    app: AppCredentials
    env_file: Path
    key_file: Path


@dataclass
class SetupFlow:
    """The two pages; `saved` is set once the App's credentials are on disk."""

    manifest: AppManifest
    new_app_url: str
    api_url: str
    out_dir: Path
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    done: asyncio.Event = field(default_factory=asyncio.Event)
    saved: SavedApp | None = None

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self._form), Route("/callback", self._callback)])

    async def _form(self, request: Request) -> HTMLResponse:
        action = f"{self.new_app_url}?state={self.state}"
        manifest = html.escape(self.manifest.model_dump_json(), quote=True)
        return HTMLResponse(
            _FORM.format(action=html.escape(action), name=html.escape(self.manifest.name), manifest=manifest)
        )

    async def _callback(self, request: Request) -> HTMLResponse:
        code, state = request.query_params.get("code"), request.query_params.get("state")
        if not code or state is None or not secrets.compare_digest(state, self.state):
            return HTMLResponse("<p>This link does not belong to the running `nightshift github setup`.</p>", 400)
        if self.saved is None:
            try:
                self.saved = save_credentials(await convert(self.api_url, code), self.out_dir)
            except ConfigError as e:  # shown to the person, who can try again; the setup keeps waiting
                return HTMLResponse(f"<p>{html.escape(str(e))}</p>", 502)
            self.done.set()
        install = f"{self.saved.app.html_url}/installations/new"
        return HTMLResponse(_DONE.format(slug=html.escape(self.saved.app.slug), install=html.escape(install)))


def save_credentials(app: AppCredentials, out_dir: Path) -> SavedApp:
    """The private key and an env file (GITHUB_APP_ID, GITHUB_PRIVATE_KEY_PATH, GITHUB_WEBHOOK_SECRET), mode 0600.
    Existing files are never overwritten: nothing is written then."""
    key_file = out_dir / f"github-app-{app.slug}.private-key.pem"
    env_file = out_dir / ENV_FILE
    existing = [str(p) for p in (key_file, env_file) if p.exists()]
    if existing:
        raise ConfigError(f"refusing to overwrite {', '.join(existing)}: move it away and run the setup again")
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_private(key_file, app.pem.get_secret_value())
    env = {
        "GITHUB_APP_ID": str(app.id),
        "GITHUB_PRIVATE_KEY_PATH": str(key_file.resolve()),
        "GITHUB_WEBHOOK_SECRET": app.webhook_secret.get_secret_value(),
        "NIGHTSHIFT_GITHUB_MENTION": f"@{app.slug}",
    }
    _write_private(env_file, "".join(f"{name}={shlex.quote(value)}\n" for name, value in env.items()))
    return SavedApp(app=app, env_file=env_file, key_file=key_file)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # created 0600: never readable by others
    with os.fdopen(fd, "w") as f:
        f.write(text)


async def run_setup(
    *,
    name: str,
    public_url: str,
    web_url: str,
    api_url: str,
    org: str | None,
    out_dir: Path,
    port: int,
    announce: Callable[[str], None],
) -> SavedApp:
    """Serve the pages on 127.0.0.1:port (0: any free port) until the App is created and saved."""
    if (out_dir / ENV_FILE).exists():
        raise ConfigError(f"{out_dir / ENV_FILE} exists already: an App was set up; move it away to make another")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    local = f"http://127.0.0.1:{sock.getsockname()[1]}"
    manifest = app_manifest(name=name, public_url=public_url, redirect_url=f"{local}/callback")
    flow = SetupFlow(manifest=manifest, new_app_url=new_app_url(web_url, org), api_url=api_url, out_dir=out_dir)
    server = uvicorn.Server(uvicorn.Config(flow.app(), log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        announce(f"{local}/")
        await flow.done.wait()
    finally:
        server.should_exit = True
        await serving
        sock.close()
    assert flow.saved is not None
    return flow.saved
