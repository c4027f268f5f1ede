"""The Slack integration's configuration, built once from Settings by the composition root."""

from pydantic import BaseModel, SecretStr

from control_plane.config import Settings
from integrations.github.config import web_url_of


class SlackConfig(BaseModel):
    bot_token: SecretStr
    signing_secret: SecretStr
    app_token: SecretStr | None = None
    """Set: events also arrive over Socket Mode (no public URL needed)."""
    api_url: str = "https://slack.com/api/"
    """Web API root; a stand-in in tests."""
    public_url: str = "http://127.0.0.1:8000"
    """Where people watch sessions; the thread links there."""
    github_url: str = "https://github.com"
    """`repo=owner/name` means a repository under this."""
    channel_repos: dict[str, str] = {}
    github_logins: dict[str, str] = {}
    allowed_users: frozenset[str] = frozenset()
    """Empty: everyone in the workspace may hand work over."""
    allow_bots: bool = False
    max_prompt_bytes: int = 200_000
    context_limit_bytes: int = 40_000
    """Most of a thread's earlier messages handed to the agent as context; the newest are kept."""
    status_interval_s: float = 5.0
    reclaim_after_s: float = 120.0
    """An accepted event whose handler went silent this long (its process died) is handled by another process."""
    max_attempts: int = 3
    """An event whose handling failed this many times is dropped (and logged), not retried forever."""

    @classmethod
    def from_settings(cls, s: Settings) -> "SlackConfig | None":
        """None unless both the bot token and the signing secret are set: Slack is then simply off."""
        if s.slack_bot_token is None or s.slack_signing_secret is None:
            return None
        return cls(
            bot_token=s.slack_bot_token,
            signing_secret=s.slack_signing_secret,
            app_token=s.slack_app_token,
            api_url=s.slack_api_url,
            public_url=s.public_url.rstrip("/"),
            github_url=web_url_of(s.github_api_url),
            channel_repos=s.slack_channel_repos,
            github_logins=s.slack_github_logins,
            allowed_users=frozenset(u.strip() for u in s.slack_allowed_users.split(",") if u.strip()),
            allow_bots=s.slack_allow_bots,
            max_prompt_bytes=s.max_prompt_bytes,
            status_interval_s=s.slack_status_interval_s,
        )

    def session_url(self, session_id: str) -> str:
        return f"{self.public_url}/sessions/{session_id}"

    def requester(self, slack_user: str) -> str:
        """Who the session records as the asker: the person's GitHub login when known, else their Slack id."""
        return self.github_logins.get(slack_user, f"slack:{slack_user}")
