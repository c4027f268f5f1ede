import pytest

from harness.budget import Budget, Spent, exhausted
from harness.messages import Usage
from harness.model import retry_delay_s
from harness.pricing import DEFAULT_PRICES, cost_usd

BUDGET = Budget(max_steps=10, max_tokens=1000, max_cost_usd=1.0, max_wall_time_s=60)


@pytest.mark.parametrize(
    ("spent", "elapsed_s", "expected"),
    [
        (Spent(steps=9, tokens=999, cost_usd=0.99), 59, None),
        (Spent(steps=10), 0, "step budget exhausted (10 of 10 model calls)"),
        (Spent(tokens=1000), 0, "token budget exhausted (1,000 of 1,000 tokens)"),
        (Spent(cost_usd=1.0), 0, "cost budget exhausted ($1.00 of $1.00)"),
        (Spent(), 60, "wall-time budget exhausted (60s of 60s)"),
    ],
)
def test_exhausted(spent: Spent, elapsed_s: float, expected: str | None) -> None:
    assert exhausted(spent, BUDGET, elapsed_s) == expected


@pytest.mark.parametrize(
    ("attempt", "retry_after_s", "expected"),
    [(1, None, 2.0), (2, None, 4.0), (3, None, 8.0), (3, 0.5, 0.5), (2, 500.0, 60.0), (4, None, None)],
)
def test_retry_delay(attempt: int, retry_after_s: float | None, expected: float | None) -> None:
    assert retry_delay_s(attempt, max_retries=3, base_s=2.0, retry_after_s=retry_after_s) == expected


def test_cost_counts_cache_writes_and_reads() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
    )
    # sonnet: 3 * (1 + 1.25 + 0.1) + 15 = 22.05
    assert cost_usd("claude-sonnet-4-5", usage, DEFAULT_PRICES) == pytest.approx(22.05)
    assert cost_usd("claude-opus-4-5-20251101", Usage(output_tokens=1_000_000), DEFAULT_PRICES) == pytest.approx(25.0)
    # unknown models are costed at the highest known price: 15 * 2.35 + 75
    assert cost_usd("unknown-model", usage, DEFAULT_PRICES) == pytest.approx(110.25)
