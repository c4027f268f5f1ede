"""Sandbox providers (the agent's hands), chosen by name and imported lazily."""

import importlib

from harness.errors import ConfigError
from harness.sandboxes.base import ExecResult, Sandbox, SandboxProvider, SandboxSpec

__all__ = ["ExecResult", "Sandbox", "SandboxProvider", "SandboxSpec", "provider_class"]

_PROVIDERS = {
    "local": "harness.sandboxes.local.LocalSandboxProvider",
    "modal": "harness.sandboxes.modal.ModalSandboxProvider",
}


def provider_class(name: str) -> type[SandboxProvider]:
    if name not in _PROVIDERS:
        raise ConfigError(f"unknown sandbox provider {name!r}; choose from {sorted(_PROVIDERS)}")
    module, _, attr = _PROVIDERS[name].rpartition(".")
    cls: type[SandboxProvider] = getattr(importlib.import_module(module), attr)
    return cls
