"""Sentry webhook deliveries: the signature check, and the vendor payload -> our Alert. The only place that reads
Sentry's JSON; the `_` models mirror the parts of Sentry's payloads we read (the rest is ignored)."""

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from control_plane.errors import BadRequest
from integrations import signatures
from integrations.sentry.models import Alert, Breadcrumb, ExceptionInfo, Frame

_PROJECT_IN_URL = re.compile(r"/projects/[^/]+/([^/]+)/")


class MalformedAlert(BadRequest):
    """Not the JSON Sentry sends for that resource (400)."""


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """Sentry-Hook-Signature is the hex HMAC-SHA256 of the raw body with the client secret, no prefix."""
    return signatures.matches(secret, body, header)


def sign(secret: bytes, body: bytes) -> str:
    """What Sentry sends as Sentry-Hook-Signature (for tests)."""
    return signatures.hex_digest(secret, body)


class _Frame(BaseModel):
    filename: str | None = None
    abs_path: str | None = None
    lineno: int | None = None
    function: str | None = None
    context_line: str | None = None
    in_app: bool | None = None


class _Stacktrace(BaseModel):
    frames: list[_Frame] = []


class _ExceptionValue(BaseModel):
    type: str | None = None
    value: str | None = None
    stacktrace: _Stacktrace | None = None


class _Exception(BaseModel):
    values: list[_ExceptionValue] = []


class _Crumb(BaseModel):
    category: str | None = None
    message: str | None = None
    level: str | None = None


class _Crumbs(BaseModel):
    values: list[_Crumb] = []


class _Event(BaseModel):
    issue_id: str | int
    event_id: str | None = None
    web_url: str
    title: str = ""
    culprit: str | None = None
    project: int | str | None = None
    url: str | None = None
    release: str | None = None
    tags: list[tuple[str, str]] = []
    exception: _Exception | None = None
    breadcrumbs: _Crumbs | None = None


class _EventAlertData(BaseModel):
    event: _Event
    triggered_rule: str | None = None


class _Project(BaseModel):
    id: str | int
    slug: str | None = None


class _Issue(BaseModel):
    id: str | int
    title: str
    culprit: str | None = None
    permalink: str | None = None
    web_url: str | None = None
    project: _Project


class _IssueData(BaseModel):
    issue: _Issue


def _event_alert(raw: dict[str, Any]) -> Alert:
    data = _EventAlertData.model_validate(raw.get("data"))
    e = data.event
    slug = _PROJECT_IN_URL.search(e.url or "")
    project = slug.group(1) if slug else str(e.project)
    excs = [
        ExceptionInfo(
            type=v.type or "Exception",
            value=v.value or "",
            frames=[
                Frame(
                    filename=f.filename or f.abs_path or "?",
                    lineno=f.lineno,
                    function=f.function,
                    context_line=f.context_line,
                    in_app=bool(f.in_app),
                )
                for f in (v.stacktrace.frames if v.stacktrace else [])
            ],
        )
        for v in (e.exception.values if e.exception else [])
    ]
    crumbs = [
        Breadcrumb(category=c.category or "", message=c.message or "", level=c.level or "")
        for c in (e.breadcrumbs.values if e.breadcrumbs else [])
    ]
    return Alert(
        resource="event_alert",
        project=project,
        issue_id=str(e.issue_id),
        event_id=e.event_id,
        title=e.title,
        culprit=e.culprit or "",
        web_url=e.web_url,
        release=e.release,
        tags=e.tags,
        exceptions=excs,
        breadcrumbs=crumbs,
        rule=data.triggered_rule,
    )


def _issue_created(raw: dict[str, Any]) -> Alert:
    i = _IssueData.model_validate(raw.get("data")).issue
    return Alert(
        resource="issue",
        project=i.project.slug or str(i.project.id),
        issue_id=str(i.id),
        title=i.title,
        culprit=i.culprit or "",
        web_url=i.web_url or i.permalink or "",
    )


def parse(resource: str, body: bytes) -> Alert | None:
    """The alert a delivery carries, or None for resources and actions that start nothing (installation, comments,
    resolved issues...). Raises MalformedAlert when the body is not what Sentry sends for that resource."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MalformedAlert(f"the body is not JSON: {e}") from e
    if not isinstance(raw, dict):
        raise MalformedAlert("the body is not a JSON object")
    action = raw.get("action")
    try:
        if resource == "event_alert" and action == "triggered":
            return _event_alert(raw)
        if resource == "issue" and action == "created":
            return _issue_created(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MalformedAlert(f"not a {resource} payload: {where}: {first['msg']}") from e
    return None
