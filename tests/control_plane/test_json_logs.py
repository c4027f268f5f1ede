"""NIGHTSHIFT_LOG_FORMAT=json: a worker process logs one JSON object per line, and every line logged during a run
(the worker's own, the model SDK's HTTP requests) carries the session id; so do the API's requests about a session."""

import asyncio
import io
import json
import logging
import signal
from pathlib import Path

import httpx
from spine import marker, spawn_worker, start, wait_status
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from control_plane.log_setup import SessionLogContext, handler, session_id_var
from control_plane.runtime import Runtime
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use


async def test_every_line_of_a_run_carries_its_session_id(rt: Runtime, standin: AnthropicStandIn, remote: Path) -> None:
    tag = marker()
    turns = [Reply(tool_use("shell", {"command": "true"})), Reply(tool_use("finish", {"summary": "logged"}))]
    standin.register(Script(turns, key=tag))
    session = await start(rt, remote, f"{tag} log it")
    worker, log_path = spawn_worker(rt, standin, "json", NIGHTSHIFT_LOG_FORMAT="json")
    try:
        assert (await wait_status(rt, session.id, {"finished", "failed"})).status == "finished"
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0
    finally:
        worker.kill()
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    messages = [r["message"] for r in records]
    first, last = messages.index("run starting"), messages.index("run over")
    during = records[first : last + 1]
    assert {r["session_id"] for r in during} == {session.id}
    assert any(r["name"].startswith("httpx") and "/v1/messages" in r["message"] for r in during)  # a library's line too
    assert {"time", "level", "name", "message", "session_id"} <= set(during[0])


def test_text_format_shows_the_session_id_too() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("nightshift.test.text")
    logger.addHandler(handler("text", stream))
    try:
        token = session_id_var.set("abc123")
        logger.warning("inside")
        session_id_var.reset(token)
        logger.warning("outside")
    finally:
        logger.handlers.clear()
    inside, outside = stream.getvalue().splitlines()
    assert inside.endswith("WARNING nightshift.test.text [abc123] inside")
    assert outside.endswith("WARNING nightshift.test.text [None] outside")


async def test_api_requests_about_a_session_log_with_its_id(rt: Runtime) -> None:
    stream = io.StringIO()
    logger = logging.getLogger("nightshift.test.api")
    logger.addHandler(handler("json", stream))
    logger.setLevel(logging.INFO)

    async def route(request: Request) -> PlainTextResponse:
        logger.info("handling %s", request.url.path)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/{path:path}", route)], middleware=[Middleware(SessionLogContext)])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            for path in ["/api/sessions/0123456789ab/events", "/sessions/0123456789ab", "/api/sessions", "/healthz"]:
                assert (await http.get(path)).status_code == 200
    finally:
        logger.handlers.clear()
    ids = [json.loads(line)["session_id"] for line in stream.getvalue().splitlines()]
    assert ids == ["0123456789ab", "0123456789ab", None, None]
    assert SessionLogContext in [m.cls for m in rt.api().user_middleware]  # the API the CLI serves has it
