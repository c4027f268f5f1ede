"""Sentry's side of the tests: its documented event_alert example (a Python stack trace), signed as Sentry signs it."""

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from integrations.sentry.payload import sign

CLIENT_SECRET = "sentry-client-secret-4b1c9e7d"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "sentry"


def event_alert(issue_id: str = "1117540176", project: str = "calc-api") -> dict[str, Any]:
    raw: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / "event_alert.json").read_text()))
    event = raw["data"]["event"]
    event["event_id"] = uuid.uuid4().hex  # every occurrence is a new Sentry event
    event["issue_id"] = issue_id
    event["url"] = f"https://sentry.io/api/0/projects/example-org/{project}/events/{event['event_id']}/"
    event["web_url"] = f"https://sentry.io/organizations/example-org/issues/{issue_id}/"
    return raw


def headers(body: bytes, resource: str = "event_alert", secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "sentry-hook-resource": resource,
        "sentry-hook-timestamp": "1700000000",
        "request-id": str(uuid.uuid4()),
        "sentry-hook-signature": sign(secret.encode(), body),
    }
