"""`nightshift github setup` against the GitHub stand-in: the local page hands GitHub the manifest, GitHub's redirect
brings the code back, the code becomes credentials on disk (0600), and `doctor` then finds the App working."""

import asyncio
import html
import json
import re
import stat
from pathlib import Path

import httpx
import pytest

from control_plane.config import Settings
from harness.errors import ConfigError
from integrations.github.app_manifest import EVENTS, PERMISSIONS
from integrations.github.doctor import check_github
from integrations.github.setup import run_setup
from integrations.testing.github_standin import GitHubStandIn


def form_of(page: str) -> tuple[str, dict]:
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
    manifest = json.loads(html.unescape(re.search(r'name="manifest" value="([^"]+)"', page).group(1)))
    return action, manifest


async def test_the_app_is_created_from_the_manifest_and_its_credentials_saved(tmp_path: Path) -> None:
    pages: asyncio.Queue[str] = asyncio.Queue()
    out = tmp_path / "data"
    with GitHubStandIn(tmp_path / "gh") as gh:
        setup = asyncio.create_task(
            run_setup(
                name="nightshift-acme",
                public_url="https://ns.acme.dev/",
                web_url=gh.base_url,
                api_url=gh.base_url,
                org="acme",
                out_dir=out,
                port=0,
                announce=pages.put_nowait,
            )
        )
        local = await pages.get()
        async with httpx.AsyncClient() as client:
            action, manifest = form_of((await client.get(local)).text)
            state = re.search(r"state=([\w-]+)", action).group(1)
            assert action == f"{gh.base_url}/organizations/acme/settings/apps/new?state={state}"
            assert manifest["default_permissions"] == PERMISSIONS
            assert manifest["default_events"] == EVENTS
            assert manifest["hook_attributes"] == {"url": "https://ns.acme.dev/webhooks/github", "active": True}
            assert manifest["url"] == "https://ns.acme.dev"
            assert manifest["redirect_url"] == f"{local}callback"

            code = gh.create_app_from_manifest(manifest)  # the person clicks "Create GitHub App"
            forged = await client.get(f"{local}callback", params={"code": code, "state": "not-ours"})
            assert forged.status_code == 400
            assert not out.exists()
            done = await client.get(f"{local}callback", params={"code": code, "state": state})
            assert done.status_code == 200
            assert f"{gh.base_url}/apps/nightshift-acme/installations/new" in done.text
        saved = await setup

        assert saved.app.slug == "nightshift-acme"
        for path in (saved.env_file, saved.key_file):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        env = dict(line.split("=", 1) for line in saved.env_file.read_text().splitlines())
        assert env["GITHUB_APP_ID"] == str(gh.app_id)
        assert env["GITHUB_WEBHOOK_SECRET"] == saved.app.webhook_secret.get_secret_value()
        assert env["NIGHTSHIFT_GITHUB_MENTION"] == "@nightshift-acme"
        assert Path(env["GITHUB_PRIVATE_KEY_PATH"]).read_text() == gh.private_key_pem

        gh.install("acme", ["acme/app"])
        settings = Settings.load({**env, "GITHUB_API_URL": gh.base_url, "NIGHTSHIFT_DATA_DIR": str(out)})
        finding = await check_github(settings)
        assert (finding.status, finding.message) == ("ok", f"App nightshift-acme (id {gh.app_id}), installed on acme")

        with pytest.raises(ConfigError, match=r"github-app\.env exists already"):
            await run_setup(
                name="again",
                public_url="https://ns.acme.dev",
                web_url=gh.base_url,
                api_url=gh.base_url,
                org=None,
                out_dir=out,
                port=0,
                announce=pages.put_nowait,
            )
