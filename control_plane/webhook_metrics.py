"""ASGI middleware timing webhook intake and counting refused deliveries, for every integration at once.

Every intake answers the same way (401 bad signature, 400 malformed, 413 too large, 2xx accepted), so the
status code is the reject reason and the integrations need not know about metrics.
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from control_plane.metrics import WEBHOOK_REJECTS, WEBHOOK_SECONDS, Metrics

REASONS = {400: "malformed", 401: "signature", 403: "forbidden", 404: "unknown_hook", 413: "too_large"}


def webhook_source(path: str) -> str | None:
    if path == "/slack/events":
        return "slack"
    if path.startswith("/webhooks/generic/"):
        return "webhook"
    if path.startswith("/webhooks/"):
        return path.removeprefix("/webhooks/").split("/")[0]
    return None


class WebhookMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = webhook_source(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if source is None:
            await self.app(scope, receive, send)
            return
        status = 500
        began = time.monotonic()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            await self.metrics.observe(WEBHOOK_SECONDS, {"source": source}, time.monotonic() - began)
            if status >= 400:
                reason = REASONS.get(status, str(status))
                await self.metrics.inc(WEBHOOK_REJECTS, {"source": source, "reason": reason})
