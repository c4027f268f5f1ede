"""POST /webhooks/generic/<name>: verify with the hook's secret, filter and render, de-duplicate, queue, 202."""

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel

from control_plane.config import WebhookConfig
from integrations import signatures
from integrations.streams import StreamConsumer
from integrations.webhooks.intake import HookQueue
from integrations.webhooks.models import HookDelivery
from integrations.webhooks.render import HookTemplates

_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
MAX_BODY_BYTES = 10 * 1024 * 1024
"""The route's outer limit; each hook's own max_payload_bytes is checked after reading."""


class HookAccepted(BaseModel):
    status: Literal["queued", "duplicate", "filtered"]


def generic_router(
    *,
    hooks: dict[str, WebhookConfig],
    templates: dict[str, HookTemplates],
    queue: HookQueue,
    consumer: StreamConsumer,
) -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(consumer.run(), name="generic webhooks")
        try:
            yield
        finally:
            consumer.stop()
            await task

    router = APIRouter(lifespan=lifespan, tags=["webhooks"])

    @router.post("/webhooks/generic/{name}", status_code=202, max_body_size=MAX_BODY_BYTES)
    async def receive(name: str, request: Request) -> HookAccepted:
        """A delivery to a configured hook, signed `X-Nightshift-Signature: sha256=<hex HMAC-SHA256 of the body>`;
        `X-Nightshift-Delivery` (optional) names it for de-duplication, else the body's hash does."""
        hook = hooks.get(name)
        if hook is None:
            raise HTTPException(404, "no such webhook")
        body = await request.body()
        if len(body) > hook.max_payload_bytes:
            raise HTTPException(413, f"this webhook's payloads are capped at {hook.max_payload_bytes:,} bytes")
        secret = hook.secret.get_secret_value().encode()
        if not signatures.matches(secret, body, request.headers.get("x-nightshift-signature"), prefix="sha256="):
            raise HTTPException(401, "missing or wrong X-Nightshift-Signature")
        delivery_id = request.headers.get("x-nightshift-delivery") or hashlib.sha256(body).hexdigest()
        if not _DELIVERY_ID.fullmatch(delivery_id):
            raise HTTPException(400, "malformed X-Nightshift-Delivery")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise HTTPException(400, f"the body is not JSON: {e}") from e
        rendered = templates[name].render(payload)  # RenderFailed is a BadRequest: the app answers 400
        if rendered is None:
            return HookAccepted(status="filtered")
        delivery = HookDelivery(
            hook=name, delivery_id=delivery_id, received_at=time.time(), prompt=rendered.prompt, origin=rendered.origin
        )
        return HookAccepted(status="queued" if await queue.accept(delivery) else "duplicate")

    return router
