"""Budgets: when a run must stop. Pure decisions; the loop supplies what was spent and the clock."""

from typing import Protocol

from pydantic import BaseModel


class Budget(BaseModel):
    """Limits for one run: the work between a person's hand-off and the agent finishing.

    A follow-up message starts a new run with a fresh budget; a worker resuming a crashed run does not.
    """

    max_steps: int = 60
    """Model calls."""
    max_tokens: int = 4_000_000
    """Input (including cache reads and writes) plus output tokens."""
    max_cost_usd: float = 25.0
    max_wall_time_s: float = 3600.0


class Spent(BaseModel):
    steps: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


def exhausted(spent: Spent, budget: Budget, elapsed_s: float) -> str | None:
    """Why the run must stop before its next model call, or None."""
    if spent.steps >= budget.max_steps:
        return f"step budget exhausted ({spent.steps} of {budget.max_steps} model calls)"
    if spent.tokens >= budget.max_tokens:
        return f"token budget exhausted ({spent.tokens:,} of {budget.max_tokens:,} tokens)"
    if spent.cost_usd >= budget.max_cost_usd:
        return f"cost budget exhausted (${spent.cost_usd:.2f} of ${budget.max_cost_usd:.2f})"
    if elapsed_s >= budget.max_wall_time_s:
        return f"wall-time budget exhausted ({elapsed_s:.0f}s of {budget.max_wall_time_s:.0f}s)"
    return None


class SpendLimit(Protocol):
    """A limit beyond the run's own budget (the control plane's daily budgets per repo and per person)."""

    async def exceeded(self) -> str | None:
        """Why no further model call may be made, or None."""
        ...
