"""POST /webhooks/sentry: verify, parse, de-duplicate, queue, answer 202; the router's lifespan runs the consumer."""

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel

from integrations.sentry.intake import AlertQueue
from integrations.sentry.models import Delivery
from integrations.sentry.payload import parse, signature_ok
from integrations.streams import StreamConsumer

_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,100}")


class SentryAccepted(BaseModel):
    status: Literal["queued", "duplicate", "ignored", "installed"]


def sentry_router(*, secret: bytes, max_payload_bytes: int, queue: AlertQueue, consumer: StreamConsumer) -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(consumer.run(), name="sentry alerts")
        try:
            yield
        finally:
            consumer.stop()
            await task

    router = APIRouter(lifespan=lifespan, tags=["sentry"])

    @router.post("/webhooks/sentry", status_code=202, max_body_size=max_payload_bytes)
    async def receive(request: Request) -> SentryAccepted:
        """A Sentry integration-platform webhook. The signature is checked before anything else is read."""
        body = await request.body()
        if len(body) > max_payload_bytes:  # max_body_size already refuses these; kept so the cap never depends on it
            raise HTTPException(413, f"Sentry payloads are capped at {max_payload_bytes:,} bytes")
        if not signature_ok(secret, body, request.headers.get("sentry-hook-signature")):
            raise HTTPException(401, "missing or wrong Sentry-Hook-Signature")
        request_id = request.headers.get("request-id", "")
        resource = request.headers.get("sentry-hook-resource", "")
        if not _REQUEST_ID.fullmatch(request_id) or not resource:
            raise HTTPException(400, "missing or malformed Request-ID or Sentry-Hook-Resource")
        if resource == "installation":
            return SentryAccepted(status="installed")  # nothing to keep: the client secret is configured by hand
        alert = parse(resource, body)  # MalformedAlert is a BadRequest: the app answers 400
        if alert is None:
            return SentryAccepted(status="ignored")
        delivery = Delivery(request_id=request_id, received_at=time.time(), alert=alert)
        return SentryAccepted(status="queued" if await queue.accept(delivery) else "duplicate")

    return router
