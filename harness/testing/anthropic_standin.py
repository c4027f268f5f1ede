"""A local stand-in for the Anthropic Messages API that replays a SCRIPTED conversation.

It is never a real model and never calls one: every answer comes from a `Script` written by a test, a benchmark
or the clearly labelled scripted demo. What it reproduces faithfully is the wire format, so the real `anthropic`
SDK (`AsyncAnthropic(base_url=standin.base_url, api_key=...)`) talks to it unmodified, streaming included:

* `POST /v1/messages`, non-streaming (a Message object) and streaming (SSE in the real event order, with a ping);
* `GET /v1/models/{id}`, the cheap call `nightshift doctor` makes to check a key (claude-* ids exist);
* the API's transcript checks (no empty message but a final assistant one, first message from the user,
  consecutive same-role messages combined into one turn as the API documents, every tool_use answered by a
  leading tool_result, no unknown tool_use_id), answered with the real 400 `invalid_request_error` shape;
* scripted errors: HTTP errors such as 429 with retry-after, 529 or 500, and an SSE `error` event mid-stream;
* rough usage numbers and a simple prompt-cache simulation.

Usage::

    script = Script([Reply(tool_use("read_file", {"path": "README.md"})), Reply("Done.")])
    with AnthropicStandIn(script) as standin:
        client = anthropic.AsyncAnthropic(base_url=standin.base_url, api_key="test-key")
        ...  # run the code under test
        assert standin.requests[-1].tool_results()[0].text.startswith("# Nightshift")
        standin.assert_all_consumed()

Each request consumes the next step of the script it is routed to. A step is a `Reply`, an `ApiError`, a
`MidStreamError`, or a callable that receives the `RecordedRequest` and returns one of those, so a test can look
at the tool results it was sent before deciding. A request that finds its script exhausted gets a 500 saying
"scripted conversation exhausted after N steps" (with `x-should-retry: false`, so the SDK does not retry it).

Routing (many sessions, one stand-in): a `Script` built with `key=` answers only the requests whose FIRST user
message text contains that key; the one script without a key is the default for requests that match no key.
A request matching two keys, or none while there is no default, gets a loud 500: give each session a unique
marker such as "[run:a1b2]" in its task text. The first user message never changes during an agent loop, so every
turn of a session reaches the same script.

Usage numbers are a rough simulation, not a tokenizer: input_tokens is the request body's length // 4 and
output_tokens the generated content's JSON length // 4 (a `ScriptedUsage` overrides either). Prompt caching: every
block carrying cache_control (tools, then system, then message content, the order the API caches in), or a
top-level cache_control meaning "up to the last block", is a breakpoint. The prefix up to each breakpoint (the
model plus the blocks, cache_control itself ignored) is hashed; the longest prefix already seen by this stand-in
is reported as cache_read_input_tokens, the rest up to the last breakpoint as cache_creation_input_tokens, and
input_tokens then counts only the uncached rest. The cache is per stand-in and never expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from types import TracebackType
from typing import Self

from pydantic import JsonValue
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from harness.testing.server import ServerThread

__all__ = [
    "AnthropicStandIn",
    "ApiError",
    "JsonObject",
    "MidStreamError",
    "RecordedRequest",
    "RecordedToolResult",
    "Reply",
    "Responder",
    "Script",
    "ScriptedAnswer",
    "ScriptedBlock",
    "ScriptedUsage",
    "Step",
    "TextContent",
    "ToolUseContent",
    "cut_tool_use",
    "text",
    "tool_use",
]

JsonObject = dict[str, JsonValue]
"""Raw vendor JSON: a request body, or a part of one, exactly as the SDK sent it."""

StopReason = str
"""What a `Reply` ends with: the API's values (anthropic.types.StopReason), or any other string, to test how the
code under test takes a value a newer API may send."""

# The status the real API pairs with each error type. A MidStreamError answers a request that did not stream with it.
_STATUS_FOR_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


# --- what a script answers with ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextContent:
    """A text block of a scripted reply."""

    text: str

    def to_json(self) -> JsonObject:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class ToolUseContent:
    """A tool call of a scripted reply; the next request must answer `id` with a tool_result."""

    id: str
    name: str
    input: JsonObject
    partial_json: str | None = None
    """When set, streamed instead of `input` as the block's JSON: a call cut short (e.g. at max_tokens) whose
    arguments are not valid JSON."""

    def to_json(self) -> JsonObject:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}


ScriptedBlock = TextContent | ToolUseContent


def text(value: str) -> TextContent:
    """A text block for a `Reply`."""
    return TextContent(value)


def tool_use(name: str, input: Mapping[str, JsonValue] | None = None, *, id: str | None = None) -> ToolUseContent:
    """A tool_use block for a `Reply`. The id is generated now when not given, so a test can read it up front."""
    return ToolUseContent(id=id or _new_id("toolu_"), name=name, input=dict(input or {}))


def cut_tool_use(name: str, partial_json: str, *, id: str | None = None) -> ToolUseContent:
    """A tool_use block whose streamed arguments stop mid-JSON, as when a reply reaches max_tokens inside a call."""
    return ToolUseContent(id=id or _new_id("toolu_"), name=name, input={}, partial_json=partial_json)


@dataclass(frozen=True)
class ScriptedUsage:
    """Usage numbers to report instead of the simulated ones; a field left None keeps the simulated value."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


@dataclass(frozen=True, init=False)
class Reply:
    """One scripted assistant message: `Reply("Hi")`, `Reply(text("Looking."), tool_use("read_file", {...}))`.

    stop_reason follows from the content ("tool_use" if it calls a tool, else "end_turn") unless `stop` names it
    (e.g. "max_tokens", "refusal", "model_context_window_exceeded"); `Reply()` is the empty reply the API sends now
    and then right after tool results. `delay_s` waits before answering, to exercise timeouts or interleave
    concurrent sessions.
    """

    content: tuple[ScriptedBlock, ...]
    usage: ScriptedUsage
    delay_s: float
    stop: StopReason | None

    def __init__(
        self,
        *content: ScriptedBlock | str,
        usage: ScriptedUsage | None = None,
        delay_s: float = 0.0,
        stop: StopReason | None = None,
    ) -> None:
        # frozen: assign through object.__setattr__, as a dataclass's own __init__ would
        object.__setattr__(self, "content", tuple(text(b) if isinstance(b, str) else b for b in content))
        object.__setattr__(self, "usage", usage or ScriptedUsage())
        object.__setattr__(self, "delay_s", delay_s)
        object.__setattr__(self, "stop", stop)

    @property
    def stop_reason(self) -> StopReason:
        if self.stop is not None:
            return self.stop
        return "tool_use" if any(isinstance(b, ToolUseContent) for b in self.content) else "end_turn"

    def to_json(self) -> list[JsonObject]:
        return [block.to_json() for block in self.content]


@dataclass(frozen=True)
class ApiError:
    """An HTTP error answer, e.g. `ApiError(429, "rate_limit_error", "Slow down", retry_after_s=0.01)`.

    `retry_after_s` becomes the `retry-after` header; the SDK waits exactly that long (any positive float) before
    its own retry, so small values keep retry tests fast.
    """

    status: int
    error_type: str
    message: str
    retry_after_s: float | None = None


@dataclass(frozen=True)
class MidStreamError:
    """Fail after a stream has started: HTTP 200, message_start, optional partial text, then an SSE `error` event.

    That is how the real API reports e.g. an overload during a stream. A request that did not stream gets the
    plain HTTP error for `error_type` instead (529 for overloaded_error).
    """

    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    partial_text: str = ""


ScriptedAnswer = Reply | ApiError | MidStreamError


# --- what the stand-in received ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedToolResult:
    """One tool_result block as sent: `text` is its string content, or its text blocks joined by newlines."""

    tool_use_id: str
    text: str
    is_error: bool
    raw: JsonObject


@dataclass(frozen=True)
class RecordedRequest:
    """One `POST /v1/messages` as received: lower-cased headers and the parsed JSON body (raw vendor JSON)."""

    index: int
    """Position among all requests this stand-in received, from 0."""
    headers: dict[str, str]
    body: JsonObject
    script_key: str | None
    """Key of the script the request was routed to; None for the default script or when routing failed."""

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[JsonObject]:
        return _objects(self.body.get("messages"))

    @property
    def tools(self) -> list[JsonObject]:
        return _objects(self.body.get("tools"))

    @property
    def system(self) -> JsonValue:
        """As sent: a string, a list of text blocks (which may carry cache_control), or None."""
        return self.body.get("system")

    def last_user_message(self) -> JsonObject | None:
        return next((m for m in reversed(self.messages) if m.get("role") == "user"), None)

    def tool_results(self) -> list[RecordedToolResult]:
        """The tool_result blocks of the last user message, in order."""
        message = self.last_user_message()
        blocks = _content_blocks(message) if message else []
        return [_tool_result(b) for b in blocks if b.get("type") == "tool_result"]

    def user_text(self) -> str:
        """The text blocks (or string content) of the last user message, joined by newlines."""
        message = self.last_user_message()
        return _message_text(message) if message else ""

    def cache_control_paths(self) -> list[str]:
        """Where cache_control was set, e.g. ["tools.2", "system.0", "messages.4.content.1"] or ["cache_control"]."""
        paths = [segment.path for segment in _prompt_segments(self.body) if segment.marked]
        return ["cache_control", *paths] if isinstance(self.body.get("cache_control"), dict) else paths


Responder = Callable[[RecordedRequest], ScriptedAnswer]
"""A step that decides its answer from the request, e.g. after reading the tool results it was sent."""

Step = ScriptedAnswer | Responder


# --- the script -------------------------------------------------------------------------------------------------


class Script:
    """The ordered steps of one scripted conversation; each request routed here consumes the next one.

    `key` (optional) is the routing marker: see the module docstring.
    """

    def __init__(self, steps: Iterable[Step], *, key: str | None = None) -> None:
        if key == "":
            raise ValueError("a script key must be a non-empty marker string (or None for the default script)")
        self.key = key
        self.steps: tuple[Step, ...] = tuple(steps)
        self.consumed = 0
        self.requests: list[RecordedRequest] = []
        """The requests routed to this script, including ones rejected before consuming a step."""
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        return len(self.steps) - self.consumed

    def __repr__(self) -> str:
        return f"Script(key={self.key!r}, consumed={self.consumed}/{len(self.steps)})"

    def _next_step(self) -> Step | None:
        with self._lock:
            if self.consumed >= len(self.steps):
                return None
            self.consumed += 1
            return self.steps[self.consumed - 1]


class _Unscripted(Exception):
    """The stand-in cannot answer from its scripts; becomes a loud 500 the SDK will not retry."""


# --- the server -------------------------------------------------------------------------------------------------


class AnthropicStandIn:
    """A scripted, local `POST /v1/messages` server (never a real model) for tests, benchmarks and the demo.

    `with AnthropicStandIn(script) as standin:` serves on `standin.base_url` (127.0.0.1, a free port) from a
    background thread, so it works from sync and async tests alike. Every request whose body parsed is kept, in
    order, in `requests`; every error the stand-in raised on its own (not scripted) is described in `problems`.
    `expected_api_key`, when given, must match the key sent, otherwise any non-empty key is accepted.
    """

    def __init__(self, *scripts: Script, expected_api_key: str | None = None) -> None:
        self.requests: list[RecordedRequest] = []
        self.problems: list[str] = []
        self._expected_api_key = expected_api_key
        self._default: Script | None = None
        self._keyed: dict[str, Script] = {}
        self._lock = threading.Lock()
        self._cache = _PromptCache()
        self._server: ServerThread | None = None
        for script in scripts:
            self.register(script)

    def register(self, script: Script) -> None:
        """Add a script, also while serving (e.g. when a test starts another session)."""
        with self._lock:
            if script.key is None:
                if self._default is not None:
                    raise ValueError("only one script may go without a key: it is the default for unmatched requests")
                self._default = script
            elif script.key in self._keyed:
                raise ValueError(f"a script is already registered under key {script.key!r}")
            else:
                self._keyed[script.key] = script

    @property
    def scripts(self) -> list[Script]:
        with self._lock:
            return [s for s in (self._default, *self._keyed.values()) if s is not None]

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not serving: use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._server.port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the stand-in is already serving")
        server = ServerThread(self._build_app(), "anthropic-standin")
        server.start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def assert_all_consumed(self) -> None:
        """Fail when a script has steps left: the code under test stopped calling the API earlier than scripted."""
        leftovers = [
            f"{s.key or 'default'}: {s.remaining} of {len(s.steps)} unused" for s in self.scripts if s.remaining
        ]
        if leftovers:
            raise AssertionError("scripted conversation not finished: " + "; ".join(leftovers))

    # --- request handling (runs on the server thread) ---

    def _build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._messages_endpoint, methods=["POST"]),
                Route("/v1/models/{model_id}", self._model_endpoint, methods=["GET"]),
            ],
            exception_handlers={HTTPException: _http_error},
        )

    async def _model_endpoint(self, request: Request) -> Response:
        """GET /v1/models/{id} (what `nightshift doctor` asks): any claude-* id is known, anything else is not."""
        if problem := _auth_problem(dict(request.headers.items()), self._expected_api_key):
            return self._reject(401, "authentication_error", problem)
        model_id = request.path_params["model_id"]
        if not model_id.startswith("claude-"):
            return self._reject(404, "not_found_error", f"model: {model_id}")
        body = {"type": "model", "id": model_id, "display_name": model_id, "created_at": "2026-01-01T00:00:00Z"}
        return JSONResponse(body)

    async def _messages_endpoint(self, request: Request) -> Response:
        headers = dict(request.headers.items())
        if problem := _auth_problem(headers, self._expected_api_key):
            return self._reject(401, "authentication_error", problem)
        raw = await request.body()
        body = _parse_object(raw)
        if body is None:
            return self._reject(400, "invalid_request_error", "the request body is not a JSON object")
        route = self._route(body)
        recorded = self._record(headers, body, route if isinstance(route, Script) else None)
        # Validate before routing errors: an invalid transcript is the more useful message, and it consumes no step.
        if problem := _request_problem(body, headers):
            return self._reject(400, "invalid_request_error", problem)
        if isinstance(route, str):
            return self._fail_loudly(route)
        try:
            answer = _next_answer(route, recorded)
        except _Unscripted as exc:
            return self._fail_loudly(str(exc))
        return await self._respond(answer, recorded, len(raw))

    def _route(self, body: JsonObject) -> Script | str:
        """The script for this request, or why there is none."""
        marker_text = _first_user_text(body)
        with self._lock:
            matches = [script for key, script in self._keyed.items() if key in marker_text]
            default = self._default
            keys = sorted(self._keyed)
        if len(matches) > 1:
            found = ", ".join(repr(s.key) for s in matches)
            return f"the first user message matches several script keys ({found}); make each key a unique marker"
        if matches:
            return matches[0]
        if default is not None:
            return default
        return f"no script key appears in the first user message and there is no default script (keys: {keys})"

    def _record(self, headers: dict[str, str], body: JsonObject, script: Script | None) -> RecordedRequest:
        recorded = RecordedRequest(
            index=len(self.requests), headers=headers, body=body, script_key=script.key if script else None
        )
        self.requests.append(recorded)
        if script is not None:
            script.requests.append(recorded)
        return recorded

    def _reject(self, status: int, error_type: str, message: str) -> Response:
        self.problems.append(f"{status} {error_type}: {message}")
        return _error_response(status, error_type, message)

    def _fail_loudly(self, message: str) -> Response:
        # x-should-retry: false, or the SDK's default retries would repeat the failure and hide it behind backoff.
        self.problems.append(f"500 api_error: {message}")
        return _error_response(500, "api_error", message, should_retry=False)

    async def _respond(self, answer: ScriptedAnswer, recorded: RecordedRequest, body_size: int) -> Response:
        if isinstance(answer, ApiError):
            return _error_response(answer.status, answer.error_type, answer.message, retry_after_s=answer.retry_after_s)
        if isinstance(answer, MidStreamError) and not recorded.stream:
            status = _STATUS_FOR_ERROR_TYPE.get(answer.error_type, 500)
            return _error_response(status, answer.error_type, answer.message)
        if isinstance(answer, Reply) and answer.delay_s > 0:
            await asyncio.sleep(answer.delay_s)
        usage = self._usage(recorded.body, body_size, answer)
        if isinstance(answer, MidStreamError):
            return _sse_response(_mid_stream_error_events(recorded.model, answer, usage))
        if recorded.stream:
            return _sse_response(_reply_events(recorded.model, answer, usage))
        message = _message_json(recorded.model, answer.to_json(), answer.stop_reason, usage.to_json())
        return JSONResponse(message, headers={"request-id": _new_id("req_")})

    def _usage(self, body: JsonObject, body_size: int, answer: Reply | MidStreamError) -> _Usage:
        input_tokens, created, read = self._cache.measure(body, body_size)
        if isinstance(answer, MidStreamError):
            return _Usage(input_tokens, _rough_tokens(answer.partial_text), created, read)
        output_tokens = _rough_tokens(json.dumps(answer.to_json()))
        return _Usage(input_tokens, output_tokens, created, read).overridden(answer.usage)


def _next_answer(script: Script, recorded: RecordedRequest) -> ScriptedAnswer:
    step = script._next_step()
    if step is None:
        where = f" (script key {script.key!r})" if script.key else ""
        raise _Unscripted(f"scripted conversation exhausted after {len(script.steps)} steps{where}")
    if isinstance(step, Reply | ApiError | MidStreamError):
        return step
    try:
        answer = step(recorded)
    except Exception as exc:  # e.g. a failed assert inside a responder: report it rather than drop the connection
        raise _Unscripted(f"scripted responder for step {script.consumed} raised {exc!r}") from exc
    if not isinstance(answer, Reply | ApiError | MidStreamError):
        raise _Unscripted(f"scripted responder returned {answer!r}; expected Reply, ApiError or MidStreamError")
    return answer


async def _http_error(_request: Request, exc: Exception) -> Response:
    # Unknown paths and methods answer in the API's JSON error shape, not Starlette's plain text.
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    error_type = "not_found_error" if status == 404 else "invalid_request_error"
    return _error_response(status, error_type, f"the scripted stand-in only serves POST /v1/messages ({status})")


# --- wire format ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Usage:
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def overridden(self, scripted: ScriptedUsage) -> _Usage:
        return replace(self, **{name: value for name, value in asdict(scripted).items() if value is not None})

    def to_json(self) -> JsonObject:
        return dict(asdict(self))


def _message_json(
    model: str, content: list[JsonObject], stop_reason: StopReason | None, usage: JsonObject
) -> JsonObject:
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": list(content),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


SseEvent = tuple[str, JsonObject]


def _reply_events(model: str, reply: Reply, usage: _Usage) -> Iterator[SseEvent]:
    yield from _stream_opening(model, usage)
    for index, block in enumerate(reply.content):
        yield from _block_events(index, block)
    delta: JsonObject = {"stop_reason": reply.stop_reason, "stop_sequence": None}
    yield "message_delta", {"type": "message_delta", "delta": delta, "usage": {"output_tokens": usage.output_tokens}}
    yield "message_stop", {"type": "message_stop"}


def _mid_stream_error_events(model: str, error: MidStreamError, usage: _Usage) -> Iterator[SseEvent]:
    yield from _stream_opening(model, usage)
    if error.partial_text:
        yield "content_block_start", _block_start(0, {"type": "text", "text": ""})
        yield "content_block_delta", _block_delta(0, {"type": "text_delta", "text": error.partial_text})
    yield "error", {"type": "error", "error": {"type": error.error_type, "message": error.message}}


def _stream_opening(model: str, usage: _Usage) -> Iterator[SseEvent]:
    # message_start carries the input side of usage; the real output count only arrives with message_delta.
    opening_usage = replace(usage, output_tokens=1).to_json()
    yield "message_start", {"type": "message_start", "message": _message_json(model, [], None, opening_usage)}
    yield "ping", {"type": "ping"}


def _block_events(index: int, block: ScriptedBlock) -> Iterator[SseEvent]:
    deltas: list[JsonObject]
    if isinstance(block, TextContent):
        start: JsonObject = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block.text)]
    else:
        start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
        # Split the JSON so the SDK's partial-JSON concatenation is exercised, as with a real model.
        arguments = block.partial_json if block.partial_json is not None else json.dumps(block.input)
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in _pieces(arguments)]
    yield "content_block_start", _block_start(index, start)
    for delta in deltas:
        yield "content_block_delta", _block_delta(index, delta)
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def _block_start(index: int, block: JsonObject) -> JsonObject:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _block_delta(index: int, delta: JsonObject) -> JsonObject:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _pieces(value: str, count: int = 3) -> list[str]:
    """`value` in up to `count` consecutive pieces; 2+ pieces whenever it has 2+ characters."""
    if len(value) < 2:
        return [value]
    size = math.ceil(len(value) / count)
    return [value[start : start + size] for start in range(0, len(value), size)]


def _sse_response(events: Iterable[SseEvent]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for name, data in events:
            yield f"event: {name}\ndata: {_compact(data)}\n\n".encode()

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"request-id": _new_id("req_"), "cache-control": "no-cache"}
    )


def _error_response(
    status: int,
    error_type: str,
    message: str,
    *,
    retry_after_s: float | None = None,
    should_retry: bool | None = None,
) -> JSONResponse:
    request_id = _new_id("req_")
    headers = {"request-id": request_id}
    if retry_after_s is not None:
        headers["retry-after"] = format(retry_after_s, "g")
    if should_retry is not None:
        headers["x-should-retry"] = "true" if should_retry else "false"
    body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    return JSONResponse(body, status_code=status, headers=headers)


# --- request checks ---------------------------------------------------------------------------------------------


def _auth_problem(headers: Mapping[str, str], expected: str | None) -> str | None:
    # The API documents x-api-key, but SDK 2.x sends `api_key` as `Authorization: Bearer <key>`: accept both.
    key = headers.get("x-api-key") or _bearer_token(headers.get("authorization", ""))
    if not key:
        return "x-api-key header is required"
    if expected is not None and key != expected:
        return "invalid x-api-key"
    return None


def _bearer_token(value: str) -> str:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _parse_object(raw: bytes) -> JsonObject | None:
    try:
        value = json.loads(raw)
    except ValueError:  # covers JSONDecodeError and UnicodeDecodeError
        return None
    return value if isinstance(value, dict) else None


def _request_problem(body: JsonObject, headers: Mapping[str, str]) -> str | None:
    if "anthropic-version" not in headers:
        return "anthropic-version: header is required"
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: Field required (a positive integer)"
    messages = body.get("messages")
    if not isinstance(messages, list):
        return "messages: Field required"
    return _transcript_problem(messages)


def _transcript_problem(messages: list[JsonValue]) -> str | None:
    if not messages:
        return "messages: at least one message is required"
    for index, message in enumerate(messages):
        if problem := _shape_problem(index, message, is_last=index == len(messages) - 1):
            return problem
    checked = _combined(_objects(messages))  # all of them, now that every shape passed
    return _order_problem(checked) or _tool_pairing_problem(checked)


def _combined(messages: list[JsonObject]) -> list[JsonObject]:
    """Consecutive user or assistant messages as the one turn the API makes of them ("Consecutive `user` or
    `assistant` turns in your request will be combined into a single turn", MessageCreateParams.messages): the
    tool_result-first rule then applies to the combined turn."""
    turns: list[JsonObject] = []
    for message in messages:
        blocks: list[JsonValue] = [*_as_blocks(message.get("content"))]
        if turns and turns[-1]["role"] == message.get("role"):
            previous = turns[-1]["content"]
            assert isinstance(previous, list)
            previous.extend(blocks)
        else:
            turns.append({"role": message.get("role"), "content": blocks})
    return turns


def _as_blocks(content: JsonValue) -> list[JsonValue]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(_objects(content))


def _shape_problem(index: int, message: JsonValue, *, is_last: bool) -> str | None:
    if not isinstance(message, dict):
        return f"messages.{index}: Input should be an object"
    role = message.get("role")
    if role not in ("user", "assistant"):
        return f"messages.{index}.role: Input should be 'user' or 'assistant'"
    content = message.get("content")
    if not isinstance(content, str | list):
        return f"messages.{index}.content: Input should be a string or a list of content blocks"
    if not content and not (is_last and role == "assistant"):
        return (
            f"messages.{index}: all messages must have non-empty content "
            "except for the optional final assistant message"
        )
    if isinstance(content, list):
        return _blocks_shape_problem(index, content)
    return None


def _blocks_shape_problem(index: int, blocks: list[JsonValue]) -> str | None:
    for position, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"messages.{index}.content.{position}.type: Field required"
    return None


def _order_problem(turns: list[JsonObject]) -> str | None:
    if turns[0].get("role") != "user":
        return 'messages: first message must use the "user" role'
    return None


def _tool_pairing_problem(messages: list[JsonObject]) -> str | None:
    for index, message in enumerate(messages):
        if message.get("role") == "assistant":
            following = messages[index + 1] if index + 1 < len(messages) else None
            problem = _unanswered_tool_uses(index, message, following)
        else:
            previous = messages[index - 1] if index > 0 else None
            problem = _unexpected_tool_results(index, message, previous)
        if problem:
            return problem
    return None


def _unanswered_tool_uses(index: int, assistant: JsonObject, following: JsonObject | None) -> str | None:
    blocks = _content_blocks(assistant)
    if any(b.get("type") == "tool_result" for b in blocks):
        return f"messages.{index}: tool_result blocks are only allowed in user messages"
    # Only the tool_result blocks at the very start of the next message count as "immediately after".
    answered = {str(b.get("tool_use_id")) for b in _leading_tool_results(following)} if following else set()
    missing = [tool_id for tool_id in _tool_use_ids(assistant) if tool_id not in answered]
    if missing:
        return (
            f"messages.{index}: tool_use ids were found without tool_result blocks immediately after: "
            f"{', '.join(missing)}. "
            "Each tool_use block must have a corresponding tool_result block in the next message."
        )
    return None


def _unexpected_tool_results(index: int, user: JsonObject, previous: JsonObject | None) -> str | None:
    blocks = _content_blocks(user)
    if any(b.get("type") == "tool_use" for b in blocks):
        return f"messages.{index}: tool_use blocks are only allowed in assistant messages"
    leading = len(_leading_tool_results(user))
    for position, block in enumerate(blocks[leading:], start=leading):
        if block.get("type") == "tool_result":
            return f"messages.{index}.content.{position}: tool_result blocks must come before any other content"
    known = set(_tool_use_ids(previous)) if previous else set()
    for position, block in enumerate(blocks[:leading]):
        if (tool_id := str(block.get("tool_use_id"))) not in known:
            return (
                f"messages.{index}.content.{position}: unexpected tool_use_id found in tool_result blocks: {tool_id}. "
                "Each tool_result block must have a corresponding tool_use block in the previous message."
            )
    return None


def _leading_tool_results(message: JsonObject) -> list[JsonObject]:
    leading: list[JsonObject] = []
    for block in _content_blocks(message):
        if block.get("type") != "tool_result":
            break
        leading.append(block)
    return leading


def _tool_use_ids(message: JsonObject) -> list[str]:
    return [str(b.get("id")) for b in _content_blocks(message) if b.get("type") == "tool_use"]


# --- prompt cache simulation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    path: str
    canonical: str
    """JSON without cache_control, so moving a breakpoint does not change the prefix it ends."""
    marked: bool


class _PromptCache:
    """Remembers hashed prompt prefixes seen at cache breakpoints (see the module docstring)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def measure(self, body: JsonObject, body_size: int) -> tuple[int, int, int]:
        """(input_tokens, cache_creation_input_tokens, cache_read_input_tokens) for this request."""
        total = max(body_size // 4, 1)
        breakpoints = _cache_breakpoints(body)
        if not breakpoints:
            return total, 0, 0
        with self._lock:
            read = max((tokens for digest, tokens in breakpoints if digest in self._seen), default=0)
            self._seen.update(digest for digest, _ in breakpoints)
        cached = breakpoints[-1][1]
        return max(total - cached, 1), cached - read, read


def _cache_breakpoints(body: JsonObject) -> list[tuple[str, int]]:
    """(prefix digest, prefix tokens) at each breakpoint, shortest prefix first."""
    segments = list(_prompt_segments(body))
    up_to_last = isinstance(body.get("cache_control"), dict)  # top-level cache_control: automatic caching
    digest = hashlib.sha256(str(body.get("model")).encode())  # caches are per model
    size = 0
    points: list[tuple[str, int]] = []
    for number, segment in enumerate(segments, start=1):
        digest.update(segment.canonical.encode() + b"\x00")
        size += len(segment.canonical)
        if segment.marked or (up_to_last and number == len(segments)):
            points.append((digest.hexdigest(), size // 4))
    return points


def _prompt_segments(body: JsonObject) -> Iterator[_Segment]:
    # The order the API builds its cache prefix in: tools, then system, then messages.
    for position, tool in enumerate(_as_list(body.get("tools"))):
        yield _segment(f"tools.{position}", tool)
    system = body.get("system")
    if isinstance(system, list):
        for position, block in enumerate(system):
            yield _segment(f"system.{position}", block)
    elif system is not None:
        yield _segment("system", system)
    for index, message in enumerate(_as_list(body.get("messages"))):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(content, list):
            yield _segment(f"messages.{index}", message)
            continue
        for position, block in enumerate(content):
            yield _segment(f"messages.{index}.content.{position}", block, prefix=f"{message.get('role')}:")


def _segment(path: str, value: JsonValue, prefix: str = "") -> _Segment:
    if not isinstance(value, dict):
        return _Segment(path, prefix + _compact(value), marked=False)
    stripped = {key: item for key, item in value.items() if key != "cache_control"}
    return _Segment(path, prefix + _compact(stripped), marked=isinstance(value.get("cache_control"), dict))


# --- small helpers ----------------------------------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _compact(value: JsonValue) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _rough_tokens(value: str) -> int:
    return max(len(value) // 4, 1)


def _as_list(value: JsonValue) -> list[JsonValue]:
    return value if isinstance(value, list) else []


def _objects(value: JsonValue) -> list[JsonObject]:
    return [item for item in _as_list(value) if isinstance(item, dict)]


def _content_blocks(message: JsonObject) -> list[JsonObject]:
    return _objects(message.get("content"))


def _message_text(message: JsonObject) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(str(b.get("text", "")) for b in _content_blocks(message) if b.get("type") == "text")


def _first_user_text(body: JsonObject) -> str:
    first = next((m for m in _objects(body.get("messages")) if m.get("role") == "user"), None)
    return _message_text(first) if first else ""


def _tool_result(block: JsonObject) -> RecordedToolResult:
    content = block.get("content")
    if isinstance(content, str):
        body = content
    else:
        body = "\n".join(str(b.get("text", "")) for b in _objects(content) if b.get("type") == "text")
    return RecordedToolResult(
        tool_use_id=str(block.get("tool_use_id")), text=body, is_error=block.get("is_error") is True, raw=block
    )
