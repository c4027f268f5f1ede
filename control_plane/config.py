"""Settings, built once at the entrypoint from the environment and an optional TOML file.

Every field `x` is read from NIGHTSHIFT_X (and a few vendor-standard names, see _ALIASES); the TOML file
(NIGHTSHIFT_CONFIG, default <data_dir>/config.toml) uses the field names as keys. The environment wins.
"""

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from control_plane.daily_budgets import DailyBudgetConfig
from control_plane.sandbox_config import RepoSandboxConfig
from harness.anthropic_config import AnthropicConfig
from harness.budget import Budget
from harness.errors import ConfigError
from harness.pricing import DEFAULT_PRICES, Price
from harness.sandboxes.modal import ModalSandboxConfig
from harness.toolbox import ToolLimits

_ALIASES = {
    "redis_url": ("REDIS_URL", "NIGHTSHIFT_REDIS_URL"),
    "anthropic_api_key": ("ANTHROPIC_API_KEY",),
    "anthropic_base_url": ("ANTHROPIC_BASE_URL",),
    "openai_base_url": ("OPENAI_BASE_URL",),
    "openai_api_key": ("OPENAI_API_KEY",),
    "github_app_id": ("GITHUB_APP_ID",),
    "github_private_key": ("GITHUB_PRIVATE_KEY",),
    "github_private_key_path": ("GITHUB_PRIVATE_KEY_PATH",),
    "github_webhook_secret": ("GITHUB_WEBHOOK_SECRET",),
    "github_token": ("GITHUB_TOKEN",),
    "github_api_url": ("GITHUB_API_URL",),
    "slack_bot_token": ("SLACK_BOT_TOKEN",),
    "slack_signing_secret": ("SLACK_SIGNING_SECRET",),
    "slack_app_token": ("SLACK_APP_TOKEN",),
    "sentry_client_secret": ("SENTRY_CLIENT_SECRET",),
    "otel_endpoint": ("OTEL_EXPORTER_OTLP_ENDPOINT",),
}

JSON_FIELDS = (
    "slack_channel_repos",
    "slack_github_logins",
    "sentry_project_repos",
    "sentry_project_channels",
    "webhooks",
    "daily_budget_repos",
    "model_prices",
)
"""Tables that may also come from the environment, as a JSON object."""


class WebhookConfig(BaseModel):
    """One generic inbound webhook, POST /webhooks/generic/<name> (a [webhooks.<name>] table in the TOML file)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    secret: SecretStr
    """Deliveries carry X-Nightshift-Signature: sha256=<hex HMAC-SHA256 of the raw body with this secret>."""
    repo: str
    """Repository the hook's sessions work on."""
    prompt: str
    """Jinja2 template of the session's task, rendered (sandboxed) with the JSON body as `payload`."""
    filter: str | None = None
    """Jinja2 expression over `payload`; the hook fires only when it is true. Unset: always."""
    origin: str | None = None
    """Jinja2 expression over `payload` naming what a delivery is about (an incident id): deliveries with the same
    value go to one session. Unset: each delivery starts its own."""
    slack_channel: str | None = None
    """Slack channel id the session's report is posted to (needs Slack configured)."""
    github_issue: str | None = Field(None, pattern=r"^[\w.-]+/[\w.-]+#\d+$")
    """"owner/name#number": the session's report is also a comment on this GitHub issue (needs GitHub configured)."""
    max_concurrent: int = Field(2, ge=1)
    """Sessions this hook may have running at once; further deliveries wait in the stream."""
    max_payload_bytes: int = 1_000_000
    """Larger deliveries are refused (413)."""


class Settings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)  # the docstrings become docs/configuration.md

    data_dir: Path
    """Embedded Redis files, repository mirrors and sandboxes. Default: ~/.local/share/nightshift."""
    redis_url: str | None = None
    """Unset: start a private redis-server under data_dir (append-only file on) and stop it on exit."""
    insecure_redis: bool = False
    """The Redis at redis_url is private (only this control plane can reach it): `serve` and `worker` then start
    even though it answers clients that send no password (they refuse such a Redis otherwise)."""
    api_token: SecretStr | None = None
    """Bearer token for the HTTP API. Unset: `serve` makes one and keeps it in data_dir/api-token."""
    auth_failure_limit: int = Field(20, ge=1)
    """Wrong API bearer tokens and failed web sign-ins one client address may make within auth_failure_window_s;
    then it is refused (429, Retry-After) until the window ends, whatever it sends. Counted in Redis."""
    auth_failure_window_s: int = Field(300, ge=1)
    """The window auth_failure_limit counts in; it starts at a client's first failure."""
    public_url: str = "http://127.0.0.1:8000"
    """Where people reach the API and web UI; used in links to sessions."""
    anthropic_api_key: SecretStr | None = None
    """Anthropic API key; the control plane keeps it, sandboxes never see it."""
    anthropic_base_url: str | None = None
    """Messages API root; unset: https://api.anthropic.com (a proxy or gateway otherwise)."""
    model: str = "claude-sonnet-4-6"
    """Default model: a Claude model name, `anthropic:NAME` or `openai:NAME`."""
    max_response_tokens: int = 8192
    """Most tokens one model answer may have."""
    model_max_retries: int = 5
    """Retries of a model call that failed with a retryable error (429, 5xx, overloaded)."""
    model_prices: dict[str, Price] = {}
    """Per-million-token prices by model-name prefix (longest wins), over the built-in list prices: for negotiated
    rates. JSON in the environment: {"claude-sonnet-4": {"input_per_mtok": 2.4, "output_per_mtok": 12}}."""
    model_retry_base_s: float = 2.0
    """First backoff between retries; it doubles each time (or follows retry-after)."""
    sandbox: Literal["local", "modal"] = "local"
    """Where sessions run: `local` (this host, bubblewrap) or `modal` (Modal credentials in this environment)."""
    modal: ModalSandboxConfig = Field(default_factory=ModalSandboxConfig)
    """The modal provider's image, limits and snapshot retention (a [modal] table in the TOML file)."""
    sandbox_pids_cgroup: Path | None = None
    """local: a pids cgroup directory the worker may create children in; caps each command's processes even as root."""
    sandbox_read_only_paths: list[Path] = Field(default_factory=list)
    """local: host paths commands may read besides /usr and a minimal /etc (a toolchain under /opt). Widens what a
    sandboxed command sees: never name a path holding secrets (the data dir, the config file and HOME are refused).
    Colon-separated in the environment."""
    sandbox_disk_quota_bytes: int = Field(default=10 * 1024**3, gt=0)
    """local: disk space one session's workspace, home and /tmp may use; over it the running command is killed."""
    sandbox_uid_first: int = Field(default=1_900_000_000, gt=0)
    """local, worker running as root: the first of the unprivileged host uids sessions run as, one per session."""
    sandbox_uid_count: int = Field(default=65_536, gt=0)
    """local, worker running as root: how many uids from sandbox_uid_first; at most this many sandboxes at once."""
    setup_timeout_s: float = 1800.0
    """Longest .nightshift/setup.sh may run (it runs once per setup script and base commit, then is snapshotted)."""
    start_timeout_s: float = 300.0
    """Longest .nightshift/start.sh may run at a session start."""
    repo_sandboxes: dict[str, RepoSandboxConfig] = Field(default_factory=dict)
    """Per repo (or "*"): network policy (open, allowlist, blocked) and scoped env for its sandboxes."""
    max_steps: int = 60
    """Budget per hand-off: model turns."""
    max_tokens: int = 4_000_000
    """Budget per hand-off: input plus output tokens."""
    max_cost_usd: float = 25.0
    """Budget per hand-off: dollars of model use."""
    max_wall_time_s: float = 3600.0
    """Budget per hand-off: wall-clock time."""
    command_timeout_s: int = 600
    """Longest a single command may run."""
    tool_output_limit_bytes: int = 30_000
    """Tool output the model sees; longer output keeps its head and tail."""
    max_prompt_bytes: int = 200_000
    """Prompts and messages larger than this are refused."""
    worker_concurrency: int = 4
    """Sessions one worker process runs at once."""
    lease_ttl_s: float = 30.0
    """A worker silent this long is presumed dead and its sessions are taken over."""
    drain_timeout_s: float = 600.0
    """On SIGTERM a worker lets each run finish its step (a command may take command_timeout_s), pushes a checkpoint
    and hands the session on; runs still busy after this long are cancelled and taken over once the lease lapses."""
    daily_budget_per_repo_usd: float | None = None
    """Dollars one repository's sessions may spend per UTC day; unset: no limit."""
    daily_budget_per_person_usd: float | None = None
    """Dollars the sessions one person asked for may spend per UTC day; unset: no limit."""
    daily_budget_repos: dict[str, float] = {}
    """Per-repository daily budgets overriding daily_budget_per_repo_usd (repo as sessions record it)."""
    metrics_token: SecretStr | None = None
    """Bearer token GET /metrics requires; unset: /metrics is open (keep it on a private network)."""
    log_format: Literal["text", "json"] = "text"
    """json: one JSON object per log line, with the session id of the run or request that logged it."""
    otel_endpoint: str | None = None
    """OTLP/HTTP collector root (or OTEL_EXPORTER_OTLP_ENDPOINT): workers send a trace per session run. Needs the
    `otel` extra; unset: no tracing."""
    host: str = "127.0.0.1"
    """Address `serve` listens on (0.0.0.0 in a container)."""
    port: int = 8000
    """Port `serve` listens on."""
    openai_base_url: str | None = None
    """An OpenAI-compatible endpoint's /v1 root (vLLM, Ollama, a vendor), for models chosen as `openai:NAME`."""
    openai_api_key: SecretStr | None = None
    """Key for openai_base_url, if the endpoint wants one."""
    openai_context_window_tokens: int = 32_768
    """What the served model reads per request (vLLM's --max-model-len)."""
    openai_input_price_per_mtok: float = 0.0
    """Dollars per million input tokens; 0 (the default) suits a self-hosted model, set it for a paid vendor."""
    openai_output_price_per_mtok: float = 0.0
    """Dollars per million output tokens."""
    repo_models: dict[str, str] = {}
    """Per-repository model choice (config file only), e.g. {"/srv/git/app.git" = "openai:qwen2.5-coder-32b"}."""
    context_window_tokens: int | None = None
    """Override the chosen model's context window (the point compaction works toward)."""
    compact_at_fraction: float = 0.75
    """Compact the conversation once a request uses this share of the context window."""
    wrap_up_max_tokens: int = 1500
    """The report a run writes when a budget ends it (one extra model call)."""
    max_sub_sessions: int = 4
    """Sub-sessions one session may start; 0 turns them off."""
    max_sub_session_depth: int = 1
    """1: sessions people start may have children, the children may not."""
    repo_doc_limit_bytes: int = 24_000
    """AGENTS.md and CLAUDE.md together, in the prompt; the rest is cut with a note."""
    max_repo_notes: int = 50
    """Notes per repository (repo memory)."""
    chromium_path: str = "/usr/bin/chromium"
    """For the screenshot tool; without Chromium (or Playwright) the tool is not offered."""
    github_app_id: int | None = None
    """GitHub App id. With a private key, Nightshift acts as the App (installation tokens per repository)."""
    github_private_key: SecretStr | None = None
    """The App's private key, PEM text (or github_private_key_path)."""
    github_private_key_path: Path | None = None
    """A file holding the App's private key."""
    github_webhook_secret: SecretStr | None = None
    """Secret GitHub signs webhook deliveries with; POST /webhooks/github is served only when it is set."""
    github_token: SecretStr | None = None
    """Personal access token: the quick-start fallback when no App is configured."""
    github_api_url: str = "https://api.github.com"
    """REST API root; https://HOST/api/v3 for GitHub Enterprise Server."""
    github_mention: str = "@nightshift"
    """What people write in a comment to hand Nightshift work."""
    github_bot_login: str | None = None
    """Login whose events are Nightshift's own (never acted on). Unset: the App's `<slug>[bot]` or the token's user."""
    github_draft_prs: bool = True
    """Open pull requests as drafts (checkpoints of unfinished runs are always drafts)."""
    github_fork_policy: Literal["read_only", "branch", "refuse"] = "read_only"
    """PRs from forks: read_only answers without pushing; branch pushes to a new branch of the base repository and
    opens a PR from it; refuse replies that forks are not handled. Never pushes to a fork."""
    github_write_interval_s: float = 1.0
    """Pause between GitHub write calls (GitHub's guidance against secondary rate limits)."""
    snapshot_refresh_interval_s: float = 1800.0
    """How often warm-start snapshots are rebuilt for repos whose default branch moved; 0 turns it off."""
    config_file: Path | None = None
    """The TOML file these settings came from, if any; hidden from sandboxes, since it may hold secrets."""
    github_oauth_client_id: str | None = None
    """GitHub OAuth app for signing in to the web UI. Unset: people sign in with the API token."""
    github_oauth_client_secret: SecretStr | None = None
    """The OAuth app's client secret."""
    github_oauth_url: str = "https://github.com"
    """Where people authorize the OAuth app (GitHub Enterprise: its own https://host)."""
    github_oauth_api_url: str = "https://api.github.com"
    """GitHub's REST API for /user (GitHub Enterprise: https://host/api/v3)."""
    github_oauth_org: str | None = None
    """Members of this GitHub organisation may sign in."""
    github_oauth_users: str = ""
    """Comma-separated GitHub logins who may sign in. With OAuth on, this or github_oauth_org is required."""
    slack_bot_token: SecretStr | None = None
    """Slack bot token (xoxb-...). With slack_signing_secret, POST /slack/events is served."""
    slack_signing_secret: SecretStr | None = None
    """Secret Slack signs event requests with (Basic Information > App Credentials)."""
    slack_app_token: SecretStr | None = None
    """App-level token (xapp-...): `serve` then also takes events over Socket Mode, for installs with no public URL."""
    slack_api_url: str = "https://slack.com/api/"
    """Slack Web API root (a stand-in in tests)."""
    slack_channel_repos: dict[str, str] = {}
    """Channel id -> repository (owner/name, URL or path) a mention in that channel works on by default."""
    slack_github_logins: dict[str, str] = {}
    """Slack user id -> GitHub login, recorded as the requester of the sessions that person starts."""
    slack_allowed_users: str = ""
    """Comma-separated Slack user ids who may hand Nightshift work; empty: everyone in the workspace."""
    slack_allow_bots: bool = False
    """Act on messages from other bots too (the bot's own messages are always ignored)."""
    slack_status_interval_s: float = 5.0
    """Least time between two edits of a thread's status message."""

    sentry_client_secret: SecretStr | None = None
    """The Sentry internal integration's client secret; POST /webhooks/sentry is served only when it is set."""
    sentry_project_repos: dict[str, str] = {}
    """Sentry project (slug or numeric id) -> repository its triage sessions work on."""
    sentry_project_channels: dict[str, str] = {}
    """Sentry project (slug or numeric id) -> Slack channel id the triage report is posted to."""
    sentry_max_concurrent: int = Field(2, ge=1)
    """Triage sessions one Sentry project may have running at once; further alerts wait in the stream."""
    sentry_max_payload_bytes: int = 1_000_000
    """Larger Sentry deliveries are refused (413)."""
    automation_max_failures: int = Field(3, ge=1)
    """A Sentry project's or a webhook's automation pauses itself after this many failed sessions in a row."""

    webhooks: dict[str, WebhookConfig] = {}
    """Generic inbound webhooks by name (config file, or JSON in NIGHTSHIFT_WEBHOOKS)."""

    @field_validator(*JSON_FIELDS, mode="before")
    @classmethod
    def _mapping_from_env(cls, v: object) -> object:
        # A table in the TOML file; in the environment, a JSON object such as {"C0123": "acme/api"}.
        return json.loads(v) if isinstance(v, str) else v

    @field_validator("sandbox_read_only_paths", mode="before")
    @classmethod
    def _paths_from_env(cls, v: object) -> object:
        # In the environment, colon-separated like PATH.
        return [p for p in v.split(":") if p] if isinstance(v, str) else v

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

    def daily_budgets(self) -> DailyBudgetConfig:
        return DailyBudgetConfig(
            per_repo_usd=self.daily_budget_per_repo_usd,
            per_person_usd=self.daily_budget_per_person_usd,
            repos=self.daily_budget_repos,
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
            prices={**DEFAULT_PRICES, **self.model_prices},
        )

    def secrets(self) -> list[str]:
        """Values that must never reach a sandbox, a log line or a tool result."""
        values = [self.anthropic_api_key, self.api_token, self.github_oauth_client_secret, self.openai_api_key]
        values += [self.github_token, self.github_webhook_secret]
        values += [self.slack_bot_token, self.slack_signing_secret, self.slack_app_token, self.sentry_client_secret]
        values += [self.metrics_token]
        values += [hook.secret for hook in self.webhooks.values()]
        found = [v.get_secret_value() for v in values if v is not None and len(v.get_secret_value()) >= 8]
        key = self.github_app_private_key()
        return found + ([key] if key else [])

    def github_app_private_key(self) -> str | None:
        """The App's private key, from github_private_key or the file github_private_key_path."""
        if self.github_private_key is not None:
            return self.github_private_key.get_secret_value()
        if self.github_private_key_path is None:
            return None
        try:
            return self.github_private_key_path.expanduser().read_text()
        except OSError as e:
            raise ConfigError(f"cannot read the GitHub App private key {self.github_private_key_path}: {e}") from e


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


def env_vars(name: str) -> tuple[str, ...]:
    """The environment variables setting `name` is read from; when several are set, the last one wins."""
    return tuple(dict.fromkeys((f"NIGHTSHIFT_{name.upper()}", *_ALIASES.get(name, ()))))


def _from_env(environ: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name in Settings.model_fields:
        for var in env_vars(name):
            if environ.get(var):
                values[name] = environ[var]
    return values
