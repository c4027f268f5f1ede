"""The GitHub App Nightshift needs, as a manifest ("Registering a GitHub App from a manifest"), and the exchange of
the code GitHub redirects back with for the new App's credentials (POST /app-manifests/{code}/conversions)."""

from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel, SecretStr

from harness.errors import ConfigError

Access = Literal["read", "write"]


@dataclass(frozen=True)
class Permission:
    """One repository permission of the App: its key in the manifest, its name on GitHub's pages, and why."""

    key: str
    title: str
    access: Access
    why: str


REQUIRED = [
    Permission("contents", "Contents", "write", "clone, and push Nightshift's branches"),
    Permission(
        "pull_requests", "Pull requests", "write", "open and update PRs, read diffs and review threads, answer in them"
    ),
    Permission("issues", "Issues", "write", "read issues, answer in them, react 👀 to the comment that asked"),
    Permission("statuses", "Commit statuses", "write", "the code reviewer's commit status on the PR head"),
    Permission("metadata", "Metadata", "read", "mandatory; also the collaborator permission check"),
]
OPTIONAL = [Permission("workflows", "Workflows", "write", "only if the agent may change `.github/workflows/`")]
"""Not in the manifest: people grant these by hand when they want them."""
PERMISSIONS = {p.key: p.access for p in REQUIRED}
_ACCESS_ON_GITHUB = {"read": "Read-only", "write": "Read and write"}


def permission_table() -> str:
    """The README's table of repository permissions, made from the manifest's (`nightshift github permissions`
    prints it; a test keeps the README equal to it)."""
    rows = ["| permission | access | why |", "|---|---|---|"]
    rows += [f"| {p.title} | {_ACCESS_ON_GITHUB[p.access]} | {p.why} |" for p in REQUIRED]
    rows += [f"| {p.title} | {_ACCESS_ON_GITHUB[p.access]} | *optional*: {p.why} |" for p in OPTIONAL]
    return "\n".join(rows)


EVENTS = ["issue_comment", "pull_request", "pull_request_review", "pull_request_review_comment", "push"]
"""What integrations/github/webhooks.py parses (push: warm-start snapshot refresh)."""


class HookAttributes(BaseModel):
    url: str
    active: bool = True


class AppManifest(BaseModel):
    name: str
    url: str
    """The App's homepage: Nightshift's public URL."""
    description: str = "Background coding agents: mention it in an issue or a pull request."
    hook_attributes: HookAttributes
    redirect_url: str
    """Where GitHub sends the person back, with ?code=, once the App is created."""
    public: bool = False
    default_permissions: dict[str, str] = PERMISSIONS
    default_events: list[str] = EVENTS


class AppCredentials(BaseModel):
    """What the conversion returns (the rest of the App object is ignored)."""

    id: int
    slug: str
    html_url: str
    pem: SecretStr
    webhook_secret: SecretStr
    client_id: str
    client_secret: SecretStr


def app_manifest(*, name: str, public_url: str, redirect_url: str) -> AppManifest:
    base = public_url.rstrip("/")
    return AppManifest(
        name=name, url=base, hook_attributes=HookAttributes(url=f"{base}/webhooks/github"), redirect_url=redirect_url
    )


def new_app_url(web_url: str, org: str | None) -> str:
    """The page the manifest is POSTed to: the person's own account, or an organisation's."""
    where = f"organizations/{org}/settings" if org else "settings"
    return f"{web_url.rstrip('/')}/{where}/apps/new"


async def convert(api_url: str, code: str) -> AppCredentials:
    """One use per code, within an hour of the redirect. No authentication: the code is the credential."""
    url = f"{api_url.rstrip('/')}/app-manifests/{code}/conversions"
    async with httpx.AsyncClient(timeout=20) as client:
        response = await client.post(url, headers={"Accept": "application/vnd.github+json"})
    if response.status_code != 201:
        raise ConfigError(f"GitHub refused the App manifest code ({response.status_code}): {response.text[:200]}")
    return AppCredentials.model_validate_json(response.content)
