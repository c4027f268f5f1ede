"""docs/configuration.md, generated from Settings (`nightshift config reference`): every setting, its environment
variables, its default and its docstring. A test keeps the committed file equal to this output."""

import json
import types
import typing
from collections.abc import Iterator

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from control_plane.config import JSON_FIELDS, Settings, WebhookConfig, env_vars
from control_plane.sandbox_config import RepoSandboxConfig
from harness.sandboxes.base import NetworkPolicy
from harness.sandboxes.modal import ModalSandboxConfig

_INTRO = """# Configuration reference

Generated from `control_plane/config.py` by `nightshift config reference`; do not edit by hand (a test checks it).

Every setting can be set in the environment (`NIGHTSHIFT_<NAME>`, or the vendor's usual variable where one is
listed) or in the TOML file (`NIGHTSHIFT_CONFIG`, default `<data_dir>/config.toml`) under its own name. The
environment wins. Tables marked JSON may also be set in the environment as a JSON object. Secrets are never shown
in logs or tool output and never reach a sandbox; keep the config file holding them at mode 0600.
"""

_TABLES: list[tuple[str, type[BaseModel], str]] = [
    ("[modal]", ModalSandboxConfig, 'The modal sandbox provider (`sandbox = "modal"`).'),
    ('[repo_sandboxes."<repo>"]', RepoSandboxConfig, 'Per repository, or `"*"` for every repository.'),
    ('[repo_sandboxes."<repo>".network]', NetworkPolicy, "What the repository's sandboxes may reach."),
    ("[webhooks.<name>]", WebhookConfig, "One generic inbound webhook, `POST /webhooks/generic/<name>`."),
]

_COMPUTED_DEFAULTS = {"data_dir": "`$XDG_DATA_HOME/nightshift`"}
"""Settings.load works these out from the environment."""


def reference() -> str:
    parts = [_INTRO, "## Settings\n", *_table(Settings, top=True)]
    for title, model, about in _TABLES:
        parts += [f"\n## `{title}`\n", f"{about}\n", *_table(model, top=False)]
    return "\n".join(parts)


def _table(model: type[BaseModel], *, top: bool) -> Iterator[str]:
    yield "| setting | environment | default | what it does |"
    yield "|---|---|---|---|"
    for name, field in model.model_fields.items():
        env = _environment(name, field) if top else "config file"
        default = _COMPUTED_DEFAULTS.get(name) if top else None
        yield f"| `{name}` | {env} | {default or _default(field)} | {_cell(_description(field))} |"


def _environment(name: str, field: FieldInfo) -> str:
    if name == "config_file":
        return "`NIGHTSHIFT_CONFIG`"
    names = ", ".join(f"`{v}`" for v in env_vars(name))
    if name in JSON_FIELDS:
        return f"{names} (JSON)"
    return "config file only" if _is_table(field.annotation) else names


def _is_table(annotation: object) -> bool:
    return typing.get_origin(annotation) is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel))


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "table below"
    return f"`{json.dumps(value) if isinstance(value, str | bool | dict | list) else value}`"


def _description(field: FieldInfo) -> str:
    text = " ".join((field.description or "").split())
    choices = [a for a in _members(field.annotation) if typing.get_origin(a) is typing.Literal]
    if choices:
        text += " One of: " + ", ".join(f"`{c}`" for c in typing.get_args(choices[0])) + "."
    if SecretStr in _members(field.annotation):
        text += " Secret."
    return text.strip()


def _members(annotation: object) -> tuple[object, ...]:
    return typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
