"""The settings page's view of Settings: every field, grouped by integration, with secrets shown only as
"set" or "not set" and passwords cut out of URLs. Built from the values' types, so a secret added later (typed
SecretStr, as every secret must be; nested in a per-repo table or not) is hidden without anyone remembering to
hide it."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

from control_plane.config import Settings

GROUPS = {
    "anthropic": "Model (Anthropic)",
    "openai": "Model (OpenAI-compatible)",
    "github_oauth": "Sign-in with GitHub",
    "github": "GitHub",
    "slack": "Slack",
    "sentry": "Sentry",
    "webhook": "Webhooks",
    "modal": "Modal",
}
"""Settings name prefixes that belong to an integration, most specific first; the rest is "General"."""
SET, NOT_SET = "set", "not set"


@dataclass(frozen=True)
class SettingRow:
    name: str
    value: str
    secret: bool


@dataclass(frozen=True)
class SettingGroup:
    title: str
    rows: list[SettingRow]

    @property
    def has_secrets(self) -> bool:
        return any(r.secret for r in self.rows)

    @property
    def configured(self) -> bool:
        """Some secret or switch of the integration is set (its defaults alone do not connect anything)."""
        return any(r.value == SET for r in self.rows if r.secret)


def plain(value: object) -> object:
    """A value as JSON-able data with every secret replaced by "set" and every URL's password cut out."""
    match value:
        case SecretStr():
            return SET
        case BaseModel():
            return {name: plain(v) for name, v in value}
        case dict():
            return {str(k): plain(v) for k, v in value.items()}
        case list() | tuple() | set() | frozenset():
            return [plain(v) for v in value]
        case Path():
            return str(value)
        case str():
            return without_password(value)
    return value


def shown(value: object) -> str:
    data = plain(value)
    if data is None:
        return NOT_SET
    return data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)


def without_password(text: str) -> str:
    """REDIS_URL and the like may carry a password: keep the rest of the URL, never that."""
    parts = urlsplit(text)
    if "://" not in text or parts.password is None:
        return text
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:••••@{host}", parts.path, parts.query, parts.fragment))


def setting_groups(settings: Settings) -> list[SettingGroup]:
    grouped: dict[str, list[SettingRow]] = {title: [] for title in ["General", *GROUPS.values()]}
    for name, value in settings:
        prefix = next((p for p in GROUPS if name.startswith(p + "_") or name == p), None)
        row = SettingRow(name, shown(value), isinstance(value, SecretStr) or _secret_type(name))
        grouped[GROUPS[prefix] if prefix else "General"].append(row)
    return [SettingGroup(title, rows) for title, rows in grouped.items() if rows]


def _secret_type(name: str) -> bool:
    """An unset secret field (None) is still a secret field: shown as "not set"."""
    annotation = Settings.model_fields[name].annotation
    return annotation is SecretStr or SecretStr in get_args(annotation)
