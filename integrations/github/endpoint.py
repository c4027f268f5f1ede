"""POST /webhooks/github: verify, parse, de-duplicate, queue, answer 202 — the slow work happens in the consumer,
which this router's lifespan runs for as long as the app serves."""

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel

from integrations.github.intake import DeliveryConsumer, DeliveryQueue
from integrations.github.models import Delivery
from integrations.github.webhooks import json_of, parse, signature_ok

MAX_PAYLOAD_BYTES = 25 * 1024 * 1024
"""GitHub caps webhook payloads at 25 MB; the app's own limit (sized for prompts) does not apply here."""
_DELIVERY_ID = re.compile(r"[A-Za-z0-9-]{1,100}")
_EVENT_NAME = re.compile(r"[a-z0-9_]{1,100}")  # projects_v2_item: digits too


class WebhookAccepted(BaseModel):
    status: Literal["queued", "duplicate", "ignored"]
    """queued: work or a record will follow; duplicate: this delivery (or what it carries) was seen before;
    ignored: an event or action Nightshift does not act on."""


def webhook_router(*, secret: bytes, queue: DeliveryQueue, consumer: DeliveryConsumer) -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(consumer.run(), name="github deliveries")
        try:
            yield
        finally:
            consumer.stop()
            await task

    router = APIRouter(lifespan=lifespan, tags=["github"])

    @router.post("/webhooks/github", status_code=202, max_body_size=MAX_PAYLOAD_BYTES)
    async def receive(request: Request) -> WebhookAccepted:
        """A GitHub App webhook delivery. Headers are read by hand: the signature is checked before anything else,
        so an unsigned or forged request gets a 401 and changes nothing."""
        body = await request.body()
        if not signature_ok(secret, body, request.headers.get("x-hub-signature-256")):
            raise HTTPException(401, "missing or wrong X-Hub-Signature-256")
        delivery_id = request.headers.get("x-github-delivery", "")
        name = request.headers.get("x-github-event", "")
        if not _DELIVERY_ID.fullmatch(delivery_id) or not _EVENT_NAME.fullmatch(name):
            raise HTTPException(400, "missing or malformed X-GitHub-Delivery or X-GitHub-Event")
        # MalformedDelivery is a BadRequest: the app's error handler answers 400.
        event = parse(name, json_of(request.headers.get("content-type", ""), body))
        if event is None:
            return WebhookAccepted(status="ignored")
        delivery = Delivery(id=delivery_id, name=name, received_at=time.time(), event=event)
        return WebhookAccepted(status="queued" if await queue.accept(delivery) else "duplicate")

    return router
