"""Settings for OpenAI-compatible chat endpoints (vLLM, Ollama, llama.cpp, vendors), apart from the SDK."""

from pydantic import BaseModel

from harness.pricing import Price

FREE = Price(input_per_mtok=0.0, output_per_mtok=0.0)


class OpenAIConfig(BaseModel):
    base_url: str
    """The endpoint's /v1 root, e.g. http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama)."""
    api_key: str = "not-needed"
    """Self-hosted servers usually take any key; the SDK insists on one. Lives in the control plane only."""
    model: str
    max_tokens: int = 8192
    """Per response, sent as max_tokens (what vLLM, Ollama and llama.cpp read)."""
    max_retries: int = 5
    """Retries on 408, 409, 429, 5xx and connection errors before the session fails."""
    retry_base_s: float = 2.0
    request_timeout_s: float = 600.0
    context_window_tokens: int = 32_768
    """What the served model reads per request (vLLM's --max-model-len); compaction starts before it fills up."""
    price: Price = FREE
    """Per million tokens. Free by default: a self-hosted model costs no API money, so only the token and step
    budgets bound it; set it for a paid vendor, or the cost budget never triggers."""
