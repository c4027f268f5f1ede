"""Model providers, chosen by name and imported lazily (an SDK takes a second to import).

A model is chosen with a string: `anthropic:claude-sonnet-4-6`, `openai:qwen2.5-coder-32b` (any OpenAI-compatible
endpoint), or a bare model name, which means Anthropic.
"""

import importlib
import re
from typing import Literal, Protocol

from pydantic import BaseModel

from harness.anthropic_config import AnthropicConfig
from harness.errors import ConfigError
from harness.model import Model
from harness.openai_config import OpenAIConfig

ProviderName = Literal["anthropic", "openai"]
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
_CLASSES = {
    "anthropic": "harness.anthropic_model.AnthropicModel",
    "openai": "harness.openai_model.OpenAIModel",
}


class ModelChoice(BaseModel):
    provider: ProviderName
    model: str

    @classmethod
    def parse(cls, text: str) -> "ModelChoice":
        provider, _, name = text.partition(":")
        choice = (
            cls(provider="openai", model=name)
            if provider == "openai"
            else cls(provider="anthropic", model=name if provider == "anthropic" else text)
        )
        if not _NAME.fullmatch(choice.model):
            raise ConfigError(f"model {text!r}: expected `anthropic:NAME`, `openai:NAME` or a Claude model name")
        return choice

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


class ClosableModel(Model, Protocol):
    async def close(self) -> None: ...


def open_model(config: AnthropicConfig | OpenAIConfig) -> ClosableModel:
    module, _, attr = _CLASSES["openai" if isinstance(config, OpenAIConfig) else "anthropic"].rpartition(".")
    model: ClosableModel = getattr(importlib.import_module(module), attr)(config)
    return model
