"""Per-repository sandbox settings: network policy and the user's scoped secrets."""

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from harness.sandboxes.base import NetworkPolicy

DEFAULT_REPO = "*"


class RepoSandboxConfig(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    network: NetworkPolicy = Field(default_factory=NetworkPolicy)
    """What the repo's sandboxes may reach (a [repo_sandboxes."<repo>".network] table)."""
    env: dict[str, SecretStr] = Field(default_factory=dict)
    """Scoped secrets a user configured for this repo's sessions (a test database URL). Given to session sandboxes
    only: never to setup.sh, so never in a snapshot. Never the platform's own keys."""

    def plain_env(self) -> dict[str, str]:
        return {name: value.get_secret_value() for name, value in self.env.items()}


def for_repo(configs: Mapping[str, RepoSandboxConfig], repo: str) -> RepoSandboxConfig:
    """The repo's own entry, else the "*" entry, else the defaults (network open, no env)."""
    return configs.get(repo) or configs.get(DEFAULT_REPO) or RepoSandboxConfig()
