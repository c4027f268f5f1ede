"""The GitHub App Nightshift needs, as a manifest ("Registering a GitHub App from a manifest"), and the exchange of
the code GitHub redirects back with for the new App's credentials (POST /app-manifests/{code}/conversions)."""

import httpx
from pydantic import BaseModel, SecretStr

from harness.errors import ConfigError

PERMISSIONS = {
    "contents": "write",  # clone, push Nightshift's branches
    "pull_requests": "write",  # open and update PRs, read diffs and review threads, answer in them
    "issues": "write",  # read issues, answer, react to the comment that asked
    "statuses": "write",  # the code reviewer's commit status
    "metadata": "read",  # mandatory; also the collaborator permission check
}
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
