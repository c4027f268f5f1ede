"""Model choices (`anthropic:NAME`, `openai:NAME`) turned into provider configs from the deployment's settings.

A session runs on its own choice (`nightshift run --model`, the API's `model`), else its repository's
(`repo_models` in the config file), else the deployment's default (`model`): see agent_setup."""

from control_plane.config import Settings
from harness.anthropic_config import AnthropicConfig
from harness.errors import ConfigError
from harness.openai_config import OpenAIConfig
from harness.pricing import Price
from harness.providers import ModelChoice


def model_config(settings: Settings, choice: str) -> AnthropicConfig | OpenAIConfig:
    parsed = ModelChoice.parse(choice)
    if parsed.provider == "anthropic":
        return settings.anthropic().model_copy(update={"model": parsed.model, **_window(settings)})
    if settings.openai_base_url is None:
        raise ConfigError(
            f"model {choice!r} needs an OpenAI-compatible endpoint: set NIGHTSHIFT_OPENAI_BASE_URL "
            "(e.g. http://127.0.0.1:8000/v1 for vLLM, http://127.0.0.1:11434/v1 for Ollama)"
        )
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return OpenAIConfig(
        base_url=settings.openai_base_url,
        api_key=key,
        model=parsed.model,
        max_tokens=settings.max_response_tokens,
        max_retries=settings.model_max_retries,
        retry_base_s=settings.model_retry_base_s,
        context_window_tokens=settings.context_window_tokens or settings.openai_context_window_tokens,
        price=Price(
            input_per_mtok=settings.openai_input_price_per_mtok, output_per_mtok=settings.openai_output_price_per_mtok
        ),
    )


def _window(settings: Settings) -> dict[str, int]:
    return {"context_window_tokens": settings.context_window_tokens} if settings.context_window_tokens else {}
