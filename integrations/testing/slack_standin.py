"""A local stand-in for the Slack Web API, and Slack's side of the Events API: payloads and signatures.

The real `slack_sdk` client talks to it unmodified (`AsyncWebClient(base_url=standin.base_url)`). It answers
the methods Nightshift calls as Slack does — `{"ok": true, ...}` on success, HTTP 200 with `{"ok": false,
"error": "..."}` on failure — and records every call:

* `auth.test` (what Bolt asks to learn the bot's own ids), `chat.postMessage`, `chat.update`,
  `conversations.replies` (the thread's parent first, then replies, oldest first);
* a wrong bearer token gets `invalid_auth`; an unknown channel for replies or ts for update `..._not_found`;
* every answer to the right token carries the token's scopes in `X-OAuth-Scopes` (by default, the manifest's).

Tests seed what people wrote with `say()`, then post the matching event to the app under test, signed as Slack
signs it (`signed()`: `v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret). Payload shapes
follow Slack's documented examples for `app_mention`, `message` and `block_actions`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.testing.server import ServerThread
from integrations.slack.manifest import BOT_SCOPES

TEAM = "T0NIGHTSH1"
BOT_USER = "U0NSBOT001"
BOT_ID = "B0NSBOT001"
APP_ID = "A0NSAPP001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    blocks: list[Any] = field(default_factory=list)
    edits: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.user:
            out["user"] = self.user
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.blocks:
            out["blocks"] = self.blocks
        return out


class SlackStandIn:
    def __init__(self, token: str = "xoxb-test-token", scopes: list[str] | None = None) -> None:
        self.token = token
        self.scopes = BOT_SCOPES if scopes is None else scopes
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self._lock = threading.Lock()
        self._clock = itertools.count(1)
        self._failures: dict[str, list[str]] = {}
        self._server: ServerThread | None = None

    # --- for tests ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not serving: use it as a context manager")
        return f"http://127.0.0.1:{self._server.port}/api/"

    def say(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> Message:
        """A person's message, as Slack stores it (so conversations.replies returns it)."""
        with self._lock:
            return self._store(Message(channel=channel, ts=self._ts(), text=text, user=user, thread_ts=thread_ts))

    def bot_messages(self, channel: str, thread_ts: str) -> list[Message]:
        with self._lock:
            return [m for m in self._thread(channel, thread_ts) if m.bot_id == BOT_ID]

    def fail(self, method: str, error: str = "fatal_error", *, times: int = 1) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}`, as Slack does (e.g.
        `message_not_found`, `fatal_error`, `ratelimited`), and change nothing."""
        with self._lock:
            self._failures.setdefault(method, []).extend([error] * times)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def __enter__(self) -> Self:
        self._server = ServerThread(self._app(), "slack-standin")
        self._server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    # --- the Web API (runs on the server thread) -----------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(routes=[Route("/api/{method}", self._dispatch, methods=["GET", "POST"])])

    async def _dispatch(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        args = await _args(request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        handlers = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post,
            "chat.update": self._update,
            "conversations.replies": self._replies,
        }
        if method not in handlers:
            return JSONResponse({"ok": False, "error": "unknown_method"}, status_code=404)
        with self._lock:
            self.calls.append(Call(method, args))
            if self._failures.get(method):
                return JSONResponse({"ok": False, "error": self._failures[method].pop(0)})
            return JSONResponse(handlers[method](args), headers={"X-OAuth-Scopes": ",".join(self.scopes)})

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://nightshift-test.slack.com/",
            "team": "Nightshift Test",
            "user": "nightshift",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        blocks = _blocks(args.get("blocks"))
        message = Message(
            channel=args["channel"],
            ts=self._ts(),
            text=args.get("text", ""),
            bot_id=BOT_ID,
            user=BOT_USER,
            thread_ts=args.get("thread_ts"),
            blocks=blocks,
        )
        self._store(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": message.to_json()}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get((args.get("channel", ""), args.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.bot_id != BOT_ID:
            return {"ok": False, "error": "cant_update_message"}
        message.text = args.get("text", message.text)
        if "blocks" in args:
            message.blocks = _blocks(args["blocks"])
        message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("ts", "")
        if (channel, ts) not in self.messages:
            return {"ok": False, "error": "thread_not_found"}
        messages = [m.to_json() for m in self._thread(channel, ts)]
        return {"ok": True, "messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _thread(self, channel: str, thread_ts: str) -> list[Message]:
        found = [m for m in self.messages.values() if m.channel == channel and thread_ts in (m.ts, m.thread_ts)]
        return sorted(found, key=lambda m: float(m.ts))

    def _store(self, message: Message) -> Message:
        self.messages[(message.channel, message.ts)] = message
        return message

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._clock):06d}"


async def _args(request: Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json") and body:
        args.update(json.loads(body))
    elif body:
        args.update(dict(urllib.parse.parse_qsl(body.decode())))
    return args


def _blocks(value: Any) -> list[Any]:
    # The SDK sends blocks as a JSON array in JSON bodies and as a JSON string in form bodies.
    return json.loads(value) if isinstance(value, str) else list(value or [])


# --- Slack's side of the Events API ----------------------------------------------------------------------------


def signed(secret: str, body: bytes, *, timestamp: int | None = None, retry: int | None = None) -> dict[str, str]:
    """The headers Slack sends with a request: timestamp, signature, and on a retry the retry number."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return headers


def event_callback(event: dict[str, Any], *, event_id: str) -> bytes:
    """An Events API request body wrapping `event`, shaped like Slack's documented example."""
    body = {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(body).encode()


def app_mention(m: Message) -> dict[str, Any]:
    event = {"type": "app_mention", "user": m.user, "text": m.text, "ts": m.ts, "channel": m.channel, "event_ts": m.ts}
    return event | ({"thread_ts": m.thread_ts} if m.thread_ts else {})


def message_event(m: Message, *, channel_type: str = "channel") -> dict[str, Any]:
    event = {
        "type": "message",
        "channel": m.channel,
        "user": m.user,
        "text": m.text,
        "ts": m.ts,
        "event_ts": m.ts,
        "channel_type": channel_type,
    }
    return event | ({"thread_ts": m.thread_ts} if m.thread_ts else {})


def block_action(question: Message, *, user: str, action_id: str, value: str) -> bytes:
    """A click on a button of `question`, as the form-encoded `payload=` Slack posts to the request URL."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": question.ts,
            "channel_id": question.channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{question.ts}.trigger",
        "team": {"id": TEAM, "domain": "nightshift-test"},
        "channel": {"id": question.channel, "name": "general"},
        "message": question.to_json(),
        "response_url": "https://hooks.slack.com/actions/T0/1/x",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "nightshift_choose_repo",
                "text": {"type": "plain_text", "text": value},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
