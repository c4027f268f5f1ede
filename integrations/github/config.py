"""The GitHub integration's configuration, built once from Settings by the composition root."""

from typing import Literal

from pydantic import BaseModel, SecretStr

from control_plane.config import Settings
from harness.errors import ConfigError

ForkPolicy = Literal["read_only", "branch", "refuse"]


class GitHubConfig(BaseModel):
    api_url: str = "https://api.github.com"
    """REST API root: https://api.github.com, https://HOST/api/v3 (Enterprise Server), or a stand-in."""
    web_url: str = "https://github.com"
    """Where repositories live for people and git: clone URLs under it get Nightshift's credentials."""
    app_id: int | None = None
    private_key: SecretStr | None = None
    """With app_id: act as the GitHub App, with an installation token per repository."""
    token: SecretStr | None = None
    """Personal access token, used when no App is configured."""
    webhook_secret: SecretStr | None = None
    """Unset: no webhook endpoint (Nightshift can still open PRs for sessions started elsewhere)."""
    mention: str = "@nightshift"
    bot_login: str | None = None
    """Nightshift's own login on GitHub; unset: asked from the API (the App's `<slug>[bot]`, the token's user)."""
    draft_prs: bool = True
    fork_policy: ForkPolicy = "read_only"
    public_url: str = "http://127.0.0.1:8000"
    """Where people watch sessions; links in replies and PR descriptions point there."""
    max_prompt_bytes: int = 200_000
    context_limit_bytes: int = 60_000
    """Most of the thread and the diff put into a session's first message; the newest comments are kept."""
    request_timeout_s: int = 20
    write_interval_s: float = 1.0
    """Pause between write calls: GitHub's guidance against its secondary rate limits."""
    token_refresh_margin_s: float = 300.0
    """An installation token (valid one hour) is replaced when it has less than this left, so a push never
    starts with a token about to expire."""
    reclaim_after_s: float = 120.0
    """A delivery whose handler went silent this long (its process died) is handled by another process."""
    max_attempts: int = 3
    """A delivery that failed this many times is dropped (and logged), not retried forever."""

    @classmethod
    def from_settings(cls, s: Settings) -> "GitHubConfig | None":
        """None when nothing of GitHub is configured: the integration is then simply off."""
        key = s.github_app_private_key()
        if (s.github_app_id is None) != (key is None):
            raise ConfigError("a GitHub App needs both GITHUB_APP_ID and its private key (GITHUB_PRIVATE_KEY[_PATH])")
        if s.github_app_id is None and s.github_token is None:
            if s.github_webhook_secret is not None:
                raise ConfigError("GITHUB_WEBHOOK_SECRET is set, but neither a GitHub App nor GITHUB_TOKEN to act with")
            return None
        return cls(
            api_url=s.github_api_url.rstrip("/"),
            web_url=web_url_of(s.github_api_url),
            app_id=s.github_app_id,
            private_key=SecretStr(key) if key is not None else None,
            token=s.github_token,
            webhook_secret=s.github_webhook_secret,
            mention=s.github_mention,
            bot_login=s.github_bot_login,
            draft_prs=s.github_draft_prs,
            fork_policy=s.github_fork_policy,
            public_url=s.public_url.rstrip("/"),
            max_prompt_bytes=s.max_prompt_bytes,
            write_interval_s=s.github_write_interval_s,
        )

    def session_url(self, session_id: str) -> str:
        return f"{self.public_url}/sessions/{session_id}"


def web_url_of(api_url: str) -> str:
    """github.com's API lives on its own host; Enterprise Server's under /api/v3; a stand-in serves both at once."""
    url = api_url.rstrip("/")
    if url == "https://api.github.com":
        return "https://github.com"
    return url.removesuffix("/api/v3")
