"""Settings for the Anthropic client, kept apart from the SDK so that reading config does not import it."""

from pydantic import BaseModel

from harness.pricing import DEFAULT_PRICES, Price


class AnthropicConfig(BaseModel):
    api_key: str
    """The platform's key. Lives in the control plane only; never passed to a sandbox."""
    base_url: str | None = None
    """None lets the SDK read ANTHROPIC_BASE_URL or use the public endpoint."""
    model: str = "claude-sonnet-4-6"
    max_tokens: int = 8192
    """Per response. A cut tool call is reported back to the model as an error."""
    max_retries: int = 5
    """Retries on 429, 408, 409, 5xx, 529 and connection errors before the session fails."""
    retry_base_s: float = 2.0
    """First backoff; doubles each retry unless the API sends retry-after."""
    request_timeout_s: float = 600.0
    context_window_tokens: int = 200_000
    """The model's context window; the conversation is compacted before it fills up."""
    prices: dict[str, Price] = DEFAULT_PRICES
