"""`nightshift doctor`'s GitHub check: the App's credentials and installations, or the personal token."""

import asyncio

import jwt
import requests
from github import Auth, Github, GithubException, GithubIntegration

from control_plane.config import Settings
from control_plane.doctor import Finding
from harness.errors import ConfigError
from integrations.github.auth import api_message
from integrations.github.config import GitHubConfig

_TIMEOUT_S = 15


async def check_github(settings: Settings) -> Finding:
    try:
        config = GitHubConfig.from_settings(settings)
    except ConfigError as e:
        return Finding(part="github", status="fail", message=str(e))
    if config is None:
        return Finding(
            part="github", status="skip", message="not configured (`nightshift github setup` creates an App)"
        )
    try:
        finding = await asyncio.to_thread(_check_app if config.app_id is not None else _check_token, config)
    except jwt.InvalidKeyError:
        return Finding(
            part="github",
            status="fail",
            message="the App's private key is not a PEM private key",
            fix="GITHUB_PRIVATE_KEY_PATH must point to the .pem file the App's settings generated (or put its text in "
            "GITHUB_PRIVATE_KEY)",
        )
    except requests.RequestException as e:
        return Finding(
            part="github",
            status="fail",
            message=f"cannot reach GitHub at {config.api_url}: {type(e).__name__}",
            fix="check GITHUB_API_URL (https://HOST/api/v3 for Enterprise Server) and the network path",
        )
    except GithubException as e:
        if e.status != 401:
            return Finding(part="github", status="fail", message=f"GitHub answered {e.status}: {api_message(e)}")
        return _refused(config, api_message(e))
    if finding.status == "ok" and config.webhook_secret is None:
        return finding.model_copy(
            update={
                "status": "warn",
                "message": finding.message + "; GITHUB_WEBHOOK_SECRET is not set, so no webhooks are served",
                "fix": "set GITHUB_WEBHOOK_SECRET to the App's (or repository webhook's) secret",
            }
        )
    return finding


def _refused(config: GitHubConfig, reason: str) -> Finding:
    if config.app_id is not None:
        what = "the App's JWT (GITHUB_APP_ID and its private key)"
        fix = "check GITHUB_APP_ID, and that the private key is a current key of that App (App settings > Private keys)"
    else:
        what, fix = "GITHUB_TOKEN", "create a new token with the permissions in the README and export GITHUB_TOKEN"
    return Finding(part="github", status="fail", message=f"GitHub refused {what}: {reason}", fix=fix)


def _check_app(config: GitHubConfig) -> Finding:
    assert config.app_id is not None and config.private_key is not None
    auth = Auth.AppAuth(config.app_id, config.private_key.get_secret_value())
    with GithubIntegration(auth=auth, base_url=config.api_url, timeout=_TIMEOUT_S, retry=None) as integration:
        app = integration.get_app()  # GET /app with the JWT: the id and the key belong together
        accounts = [i.account.login for i in integration.get_installations()]
    if not accounts:
        return Finding(
            part="github",
            status="fail",
            message=f"App {app.slug} (id {app.id}) is installed nowhere",
            fix=f"install it on the repositories Nightshift may work on: {app.html_url}/installations/new",
        )
    shown = ", ".join(accounts[:5]) + (f" and {len(accounts) - 5} more" if len(accounts) > 5 else "")
    return Finding(part="github", status="ok", message=f"App {app.slug} (id {app.id}), installed on {shown}")


def _check_token(config: GitHubConfig) -> Finding:
    assert config.token is not None
    with Github(
        auth=Auth.Token(config.token.get_secret_value()), base_url=config.api_url, timeout=_TIMEOUT_S, retry=None
    ) as gh:
        login = gh.get_user().login  # GET /user
        scopes = gh.oauth_scopes  # X-OAuth-Scopes: classic tokens only
    if scopes is not None and "repo" not in scopes and "public_repo" not in scopes:
        return Finding(
            part="github",
            status="fail",
            message=f"token of {login} lacks the repo scope (has: {', '.join(scopes) or 'none'})",
            fix="give the token the repo scope, or use a fine-grained token with the permissions in the README",
        )
    kind = "fine-grained token" if scopes is None else "classic token"
    return Finding(part="github", status="ok", message=f"{kind} of {login}; an App is the better choice for a team")
