"""The web UI's configuration, built once by the composition root from Settings."""

import hashlib
import hmac

from pydantic import BaseModel, SecretStr

from control_plane.config import Settings
from harness.errors import ConfigError


class GitHubOAuthConfig(BaseModel):
    client_id: str
    client_secret: SecretStr
    url: str = "https://github.com"
    """Where the browser goes to authorize (…/login/oauth/authorize) and where codes are exchanged."""
    api_url: str = "https://api.github.com"
    org: str | None = None
    """Members of this organisation may sign in."""
    users: frozenset[str] = frozenset()
    """Logins that may sign in whatever their organisations."""


class WebConfig(BaseModel):
    api_token: SecretStr
    """Signs people in when OAuth is off; also the root the cookie-signing key is derived from."""
    public_url: str = "http://127.0.0.1:8000"
    max_prompt_bytes: int = 200_000
    github: GitHubOAuthConfig | None = None
    """GitHub OAuth; when set, it is the only way to sign in."""
    session_max_age_s: int = 14 * 24 * 3600
    stream_block_ms: int = 3_000
    """How long one blocking read of a session's log waits for news. Must stay under the Redis client's socket
    timeout (redis-py's default is 5 s), which would otherwise cut the read off as a timeout."""
    page_size: int = 50
    scan_limit: int = 2_000
    """Most session records one list page reads while filtering by status; see listing.py."""
    auth_failure_limit: int = 20
    """Failed sign-ins (and wrong API tokens) from one client within auth_failure_window_s before 429s."""
    auth_failure_window_s: int = 300

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def signing_key(self) -> bytes:
        """Derived from the API token: rotating the token signs everyone out, and there is no second secret to keep.
        Whoever holds the token can already do anything the UI can, so deriving from it gives nothing away."""
        return hmac.new(
            self.api_token.get_secret_value().encode(), b"nightshift web session v1", hashlib.sha256
        ).digest()


def web_config(settings: Settings, api_token: str) -> WebConfig:
    return WebConfig(
        api_token=SecretStr(api_token),
        public_url=settings.public_url,
        max_prompt_bytes=settings.max_prompt_bytes,
        github=_github(settings),
        auth_failure_limit=settings.auth_failure_limit,
        auth_failure_window_s=settings.auth_failure_window_s,
    )


def _github(s: Settings) -> GitHubOAuthConfig | None:
    if s.github_oauth_client_id is None:
        return None
    if s.github_oauth_client_secret is None:
        raise ConfigError("NIGHTSHIFT_GITHUB_OAUTH_CLIENT_ID is set but NIGHTSHIFT_GITHUB_OAUTH_CLIENT_SECRET is not")
    users = frozenset(u.strip().lower() for u in s.github_oauth_users.split(",") if u.strip())
    if s.github_oauth_org is None and not users:
        raise ConfigError(
            "GitHub sign-in needs NIGHTSHIFT_GITHUB_OAUTH_ORG or NIGHTSHIFT_GITHUB_OAUTH_USERS: "
            "otherwise anyone with a GitHub account could sign in"
        )
    return GitHubOAuthConfig(
        client_id=s.github_oauth_client_id,
        client_secret=s.github_oauth_client_secret,
        url=s.github_oauth_url.rstrip("/"),
        api_url=s.github_oauth_api_url.rstrip("/"),
        org=s.github_oauth_org,
        users=users,
    )
