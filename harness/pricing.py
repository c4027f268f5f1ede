"""Estimated cost of a model call, from published per-million-token list prices.

Prices change; a deployment can override them (the `model_prices` setting, NIGHTSHIFT_MODEL_PRICES). Cache writes
cost 1.25x input, cache reads 0.1x input (5-minute cache), as Anthropic documents.
"""

from pydantic import BaseModel

from harness.messages import Usage


class Price(BaseModel):
    input_per_mtok: float
    output_per_mtok: float


# Longest matching prefix wins, so "claude-opus-4-1" can differ from "claude-opus-4".
DEFAULT_PRICES: dict[str, Price] = {
    "claude-opus-4-5": Price(input_per_mtok=5.0, output_per_mtok=25.0),
    "claude-opus-4-6": Price(input_per_mtok=5.0, output_per_mtok=25.0),
    "claude-opus-4-7": Price(input_per_mtok=5.0, output_per_mtok=25.0),
    "claude-opus-4-8": Price(input_per_mtok=5.0, output_per_mtok=25.0),
    "claude-opus-4": Price(input_per_mtok=15.0, output_per_mtok=75.0),
    "claude-sonnet-4": Price(input_per_mtok=3.0, output_per_mtok=15.0),
    "claude-haiku-4": Price(input_per_mtok=1.0, output_per_mtok=5.0),
    "claude-3-5-haiku": Price(input_per_mtok=0.8, output_per_mtok=4.0),
}


# A model we have no price for is costed at the highest known price, so budgets err on the safe side.
UNKNOWN_MODEL_PRICE = Price(input_per_mtok=15.0, output_per_mtok=75.0)


def price_for(model: str, prices: dict[str, Price]) -> Price:
    matches = [k for k in prices if model.startswith(k)]
    return prices[max(matches, key=len)] if matches else UNKNOWN_MODEL_PRICE


def cost_usd(model: str, usage: Usage, prices: dict[str, Price]) -> float:
    price = price_for(model, prices)
    billed_input = usage.input_tokens + 1.25 * usage.cache_creation_input_tokens + 0.1 * usage.cache_read_input_tokens
    return (billed_input * price.input_per_mtok + usage.output_tokens * price.output_per_mtok) / 1_000_000
