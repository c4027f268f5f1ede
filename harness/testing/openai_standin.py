"""A local stand-in for an OpenAI-compatible `POST /v1/chat/completions` that replays a SCRIPTED conversation.

It is never a real model. The scripts are the Anthropic stand-in's (`Script`, `Reply`, `tool_use`, `ApiError`),
so one test can drive either provider with the same steps; what this server reproduces is the chat completions
wire format, so the real `openai` SDK (`AsyncOpenAI(base_url=standin.base_url)`) talks to it unmodified:

* a `chat.completion` object: the reply's text as `content`, its tool calls as `tool_calls` (arguments as a JSON
  string), `finish_reason` `tool_calls` or `stop` (a scripted `Reply(stop=...)` in its terms: max_tokens is
  `length`), and `usage` with `prompt_tokens_details.cached_tokens`;
* the API's transcript checks, answered with the real 400 error shape: roles known; every `tool` message answers
  a `tool_calls` id of the assistant message right before it; every tool call of an assistant message is answered
  before anything else comes;
* scripted HTTP errors (`ApiError(429, ..., retry_after_s=...)`);
* rough usage (body length // 4) and a prefix cache: the longest request prefix (system, tools, then messages)
  already seen is reported as cached tokens.

Routing is the Anthropic stand-in's: a `Script(key=...)` answers the requests whose first user message contains
the key. Streaming is not served (the provider does not stream): `stream: true` gets a 400 saying so.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from pydantic import JsonValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.testing.anthropic_standin import (
    ApiError,
    JsonObject,
    MidStreamError,
    Reply,
    Script,
    ScriptedAnswer,
    ToolUseContent,
)
from harness.testing.server import ServerThread

__all__ = ["ChatRequest", "OpenAIStandIn"]


@dataclass(frozen=True)
class ChatRequest:
    """One `POST /v1/chat/completions` as received (raw vendor JSON)."""

    index: int
    headers: dict[str, str]
    body: JsonObject
    script_key: str | None

    @property
    def messages(self) -> list[JsonObject]:
        value = self.body.get("messages")
        return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []

    @property
    def tools(self) -> list[JsonObject]:
        value = self.body.get("tools")
        return [t for t in value if isinstance(t, dict)] if isinstance(value, list) else []

    def tool_messages(self) -> list[JsonObject]:
        """The `tool` messages after the last assistant message, in order."""
        tail: list[JsonObject] = []
        for message in reversed(self.messages):
            if message.get("role") == "assistant":
                break
            if message.get("role") == "tool":
                tail.insert(0, message)
        return tail

    def last_user_text(self) -> str:
        last = next((m for m in reversed(self.messages) if m.get("role") == "user"), None)
        return _text(last.get("content")) if last else ""


class OpenAIStandIn:
    """A scripted chat completions server (never a real model) on `base_url` (ends in /v1)."""

    def __init__(self, *scripts: Script, expected_api_key: str | None = None) -> None:
        self.requests: list[ChatRequest] = []
        self.problems: list[str] = []
        self._expected_api_key = expected_api_key
        self._scripts: dict[str | None, Script] = {}
        self._seen_prefixes: set[str] = set()
        self._lock = threading.Lock()
        self._server: ServerThread | None = None
        for script in scripts:
            self.register(script)

    def register(self, script: Script) -> None:
        with self._lock:
            if script.key in self._scripts:
                raise ValueError(f"a script is already registered under key {script.key!r}")
            self._scripts[script.key] = script

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not serving: use it as a context manager")
        return f"http://127.0.0.1:{self._server.port}/v1"

    def __enter__(self) -> Self:
        self._server = ServerThread(
            Starlette(routes=[Route("/v1/chat/completions", self._endpoint, methods=["POST"])]), "openai-standin"
        )
        self._server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    async def _endpoint(self, request: Request) -> Response:
        headers = dict(request.headers.items())
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not token or (self._expected_api_key is not None and token != self._expected_api_key):
            return self._error(401, "invalid_request_error", "Incorrect API key provided", code="invalid_api_key")
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(400, "invalid_request_error", "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return self._error(400, "invalid_request_error", "The request body must be a JSON object.")
        script = self._route(body)
        recorded = ChatRequest(len(self.requests), headers, body, script.key if script else None)
        self.requests.append(recorded)
        if problem := _request_problem(body):
            return self._error(400, "invalid_request_error", problem)
        if script is None:
            return self._error(500, "server_error", "no script matches the first user message and none is the default")
        answer = _next(script)
        if isinstance(answer, ApiError):
            return _error_response(answer.status, answer.error_type, answer.message, retry_after_s=answer.retry_after_s)
        if not isinstance(answer, Reply):
            return self._error(500, "server_error", f"the OpenAI stand-in cannot answer with {answer!r}")
        return JSONResponse(self._completion(body, len(raw), answer))

    def _route(self, body: JsonObject) -> Script | None:
        first = next((m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"), None)
        marker = _text(first.get("content")) if first else ""
        with self._lock:
            keyed = [s for k, s in self._scripts.items() if k is not None and k in marker]
            return keyed[0] if len(keyed) == 1 else self._scripts.get(None)

    def _completion(self, body: JsonObject, size: int, reply: Reply) -> JsonObject:
        calls: list[JsonValue] = [
            {"id": b.id, "type": "function", "function": {"name": b.name, "arguments": json.dumps(b.input)}}
            for b in reply.content
            if isinstance(b, ToolUseContent)
        ]
        text = "".join(b.text for b in reply.content if not isinstance(b, ToolUseContent)) or None
        message: JsonObject = {"role": "assistant", "content": text, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        prompt_tokens = max(size // 4, 1)
        completion_tokens = max(len(json.dumps(message)) // 4, 1)
        cached = min(self._cached_tokens(body), prompt_tokens)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model")),
            "choices": [
                {"index": 0, "message": message, "finish_reason": _finish_reason(reply, bool(calls)), "logprobs": None}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }

    def _cached_tokens(self, body: JsonObject) -> int:
        """Tokens of the longest prefix (model, tools, then each message) an earlier request already had."""
        digest = hashlib.sha256(json.dumps([body.get("model"), body.get("tools")], sort_keys=True).encode())
        size, cached, prefixes = 0, 0, []
        for message in body.get("messages") or []:
            piece = json.dumps(message, sort_keys=True)
            digest.update(piece.encode())
            size += len(piece)
            prefixes.append(digest.hexdigest())
            with self._lock:
                if prefixes[-1] in self._seen_prefixes:
                    cached = size // 4
        with self._lock:
            self._seen_prefixes.update(prefixes)
        return cached

    def _error(self, status: int, error_type: str, message: str, code: str | None = None) -> Response:
        self.problems.append(f"{status} {error_type}: {message}")
        return _error_response(status, error_type, message, code=code)


def _next(script: Script) -> ScriptedAnswer | str:
    step = script._next_step()
    if step is None:
        return f"scripted conversation exhausted after {len(script.steps)} steps"
    return step if isinstance(step, Reply | ApiError | MidStreamError) else "callable steps are not supported here"


def _error_response(
    status: int, error_type: str, message: str, *, retry_after_s: float | None = None, code: str | None = None
) -> JSONResponse:
    headers = {"retry-after": format(retry_after_s, "g")} if retry_after_s is not None else {}
    if status >= 500 and retry_after_s is None:
        headers["x-should-retry"] = "false"  # a stand-in failure must not hide behind the SDK's retries
    body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _request_problem(body: JsonObject) -> str | None:
    if body.get("stream") is True:
        return "stream: this stand-in answers only non-streaming requests"
    if not isinstance(body.get("model"), str) or not body.get("model"):
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "Invalid 'messages': empty array. Expected an array with minimum length 1."
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            return "Missing required parameter: 'tools[].function.name'."
    return _transcript_problem([m if isinstance(m, dict) else {} for m in messages])


def _transcript_problem(messages: list[JsonObject]) -> str | None:
    open_calls: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"Invalid value for 'messages[{index}].role': {role!r}."
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_calls:
                return (
                    f"Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                    f"'tool_calls' (messages[{index}], tool_call_id {call_id!r})."
                )
            open_calls.remove(str(call_id))
            continue
        if open_calls:
            return _unanswered(open_calls)
        open_calls = [str(c.get("id")) for c in message.get("tool_calls") or [] if isinstance(c, dict)]
        if role == "assistant" and not open_calls and message.get("content") is None:
            return f"Invalid 'messages[{index}]': an assistant message needs content or tool_calls."
    return _unanswered(open_calls) if open_calls else None


def _unanswered(call_ids: list[str]) -> str:
    return (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(call_ids)}"
    )


def _text(content: JsonValue) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


_FINISH_FOR_STOP = {"max_tokens": "length", "refusal": "content_filter", "end_turn": "stop", "tool_use": "tool_calls"}


def _finish_reason(reply: Reply, calls: bool) -> str:
    """A scripted `stop` in chat-completions terms (max_tokens → length); a value it has no name for goes as is."""
    if reply.stop is None:
        return "tool_calls" if calls else "stop"
    return _FINISH_FOR_STOP.get(reply.stop, reply.stop)
