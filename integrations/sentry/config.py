"""The Sentry integration's configuration, built once from Settings by the composition root."""

from pydantic import BaseModel, SecretStr

from control_plane.config import Settings


class SentryConfig(BaseModel):
    client_secret: SecretStr
    project_repos: dict[str, str]
    project_channels: dict[str, str] = {}
    max_concurrent: int = 2
    max_payload_bytes: int = 1_000_000
    max_prompt_bytes: int = 200_000
    max_breadcrumbs: int = 20
    """The newest breadcrumbs go in the prompt; older ones rarely explain the failure and cost context."""
    reclaim_after_s: float = 10.0
    """An alert waiting for room (or left by a dead process) is offered again after this long."""
    max_attempts: int = 3
    repeat_note_interval_s: int = 300
    """A running triage hears of its issue firing again at most this often; repeats between are counted."""

    @classmethod
    def from_settings(cls, s: Settings) -> "SentryConfig | None":
        """None unless the client secret is set: Sentry is then simply off."""
        if s.sentry_client_secret is None:
            return None
        return cls(
            client_secret=s.sentry_client_secret,
            project_repos=s.sentry_project_repos,
            project_channels=s.sentry_project_channels,
            max_concurrent=s.sentry_max_concurrent,
            max_payload_bytes=s.sentry_max_payload_bytes,
            max_prompt_bytes=s.max_prompt_bytes,
        )
