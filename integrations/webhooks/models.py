"""A generic webhook delivery as queued: already rendered, so the consumer needs nothing of the payload."""

from pydantic import BaseModel


class HookDelivery(BaseModel):
    hook: str
    delivery_id: str
    received_at: float
    prompt: str
    origin: str | None
