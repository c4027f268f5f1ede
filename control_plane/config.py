"""Settings, built once at the entrypoint from the environment and an optional TOML file.

Every field `x` is read from NIGHTSHIFT_X (and a few vendor-standard names, see _ALIASES); the TOML file
(NIGHTSHIFT_CONFIG, default <data_dir>/config.toml) uses the field names as keys. The environment wins.
"""

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, SecretStr, ValidationError

from harness.anthropic_config import AnthropicConfig
from harness.budget import Budget
from harness.errors import ConfigError
from harness.tools import ToolLimits

_ALIASES = {
    "redis_url": ("REDIS_URL", "NIGHTSHIFT_REDIS_URL"),
    "anthropic_api_key": ("ANTHROPIC_API_KEY",),
    "anthropic_base_url": ("ANTHROPIC_BASE_URL",),
}


class Settings(BaseModel):
    data_dir: Path
    """Embedded Redis files, repository mirrors and sandboxes. Default: ~/.local/share/nightshift."""
    redis_url: str | None = None
    """Unset: start a private redis-server under data_dir (append-only file on) and stop it on exit."""
    api_token: SecretStr | None = None
    """Bearer token for the HTTP API. Unset: `serve` makes one and keeps it in data_dir/api-token."""
    public_url: str = "http://127.0.0.1:8000"
    """Where people reach the API and web UI; used in links to sessions."""
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    model: str = "claude-sonnet-4-6"
    max_response_tokens: int = 8192
    model_max_retries: int = 5
    model_retry_base_s: float = 2.0
    sandbox: Literal["local"] = "local"
    max_steps: int = 60
    max_tokens: int = 4_000_000
    max_cost_usd: float = 25.0
    max_wall_time_s: float = 3600.0
    command_timeout_s: int = 600
    """Longest a single command may run."""
    tool_output_limit_bytes: int = 30_000
    max_prompt_bytes: int = 200_000
    """Prompts and messages larger than this are refused."""
    worker_concurrency: int = 4
    """Sessions one worker process runs at once."""
    lease_ttl_s: float = 30.0
    """A worker silent this long is presumed dead and its sessions are taken over."""
    host: str = "127.0.0.1"
    port: int = 8000
    config_file: Path | None = None
    """The TOML file these settings came from, if any; hidden from sandboxes, since it may hold secrets."""

    @classmethod
    def load(cls, environ: Mapping[str, str], config_file: Path | None = None) -> "Settings":
        values: dict[str, object] = {"data_dir": _default_data_dir(environ)}
        path = config_file or _config_path(environ, values)
        if path is not None:
            values.update(_read_toml(path))
            values["config_file"] = path
        values.update(_from_env(environ))
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            raise ConfigError(f"invalid configuration: {e}") from e

    def budget(self) -> Budget:
        return Budget(
            max_steps=self.max_steps,
            max_tokens=self.max_tokens,
            max_cost_usd=self.max_cost_usd,
            max_wall_time_s=self.max_wall_time_s,
        )

    def tool_limits(self) -> ToolLimits:
        return ToolLimits(output_limit_bytes=self.tool_output_limit_bytes, max_command_timeout_s=self.command_timeout_s)

    def anthropic(self) -> AnthropicConfig:
        if self.anthropic_api_key is None:
            raise ConfigError(
                "ANTHROPIC_API_KEY is not set: export it (the control plane keeps it; sandboxes never see it), "
                "or try `nightshift demo` for a scripted walk-through without a model"
            )
        return AnthropicConfig(
            api_key=self.anthropic_api_key.get_secret_value(),
            base_url=self.anthropic_base_url,
            model=self.model,
            max_tokens=self.max_response_tokens,
            max_retries=self.model_max_retries,
            retry_base_s=self.model_retry_base_s,
        )

    def secrets(self) -> list[str]:
        """Values that must never reach a sandbox, a log line or a tool result."""
        values = [self.anthropic_api_key, self.api_token]
        return [v.get_secret_value() for v in values if v is not None and len(v.get_secret_value()) >= 8]


def _default_data_dir(environ: Mapping[str, str]) -> Path:
    if "NIGHTSHIFT_DATA_DIR" in environ:
        return Path(environ["NIGHTSHIFT_DATA_DIR"]).expanduser()
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", "~")) / ".local" / "share")
    return Path(base).expanduser() / "nightshift"


def _config_path(environ: Mapping[str, str], values: dict[str, object]) -> Path | None:
    if "NIGHTSHIFT_CONFIG" in environ:
        path = Path(environ["NIGHTSHIFT_CONFIG"]).expanduser()
        if not path.is_file():
            raise ConfigError(f"NIGHTSHIFT_CONFIG points to {path}, which is not a file")
        return path
    default = Path(str(values["data_dir"])) / "config.toml"
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from e
    unknown = set(data) - set(Settings.model_fields)
    if unknown:
        raise ConfigError(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
    return data


def _from_env(environ: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name in Settings.model_fields:
        for var in (f"NIGHTSHIFT_{name.upper()}", *_ALIASES.get(name, ())):
            if environ.get(var):
                values[name] = environ[var]
    return values
