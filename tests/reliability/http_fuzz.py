"""Fuzzing every HTTP route of `nightshift serve`: the app from Runtime.api() with every integration on (GitHub,
Slack, Sentry, a generic webhook, the web UI), on a real uvicorn server in a background thread and a real Redis.

Requests are hypothesis strategies: every route the app has (read from its routing table, so a new route is fuzzed
without a change here), with malformed or wrong-typed JSON, documented vendor payloads with parts swapped out,
random bytes, invalid UTF-8, form bodies, oversized bodies, wrong content types, and signatures that are missing,
wrong or right. Used by tests/reliability/test_fuzz_http.py (a few hundred cases) and bench/fuzz_http.py (10,000)."""

import asyncio
import copy
import hashlib
import hmac
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from fastapi import FastAPI
from hypothesis import strategies as st
from pydantic import SecretStr
from starlette.routing import Mount

from control_plane.config import Settings, WebhookConfig
from control_plane.runtime import Runtime
from integrations.testing.slack_standin import SlackStandIn, event_callback

FIXTURES = Path(__file__).parents[1] / "fixtures"
API_TOKEN = "fuzz-api-token-" + "6d2a" * 8
GITHUB_SECRET = "fuzz-github-whsec-" + "1a" * 8
SLACK_SECRET = "fuzz-slack-signing-" + "2b" * 8
SLACK_TOKEN = "xoxb-1-2-fuzz" + "3c" * 8
SENTRY_SECRET = "fuzz-sentry-secret-" + "4d" * 8
HOOK_SECRET = "fuzz-hook-secret-" + "5e" * 8
OVERSIZED_BYTES = 2_100_000
"""Larger than every route's body limit (the largest is 1 MB)."""


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """With {params} as the router has them."""


@dataclass
class Outcome:
    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    """One line per 5xx answer or dropped connection: the request that caused it."""

    def record(self, case: "Case", status: int | None, detail: str) -> None:
        self.cases += 1
        if status is not None:
            self.by_status[status] = self.by_status.get(status, 0) + 1
        if status is None or status >= 500:
            self.failures.append(f"{status} {case.method} {case.path} {case.describe()}: {detail[:300]}")


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signed_in: bool

    def describe(self) -> str:
        return f"headers={sorted(self.headers)} body={self.body[:120]!r} ({len(self.body)} bytes)"


HIDDEN_FROM_OPENAPI = [Endpoint("POST", "/slack/events")]
"""Routes left out of the OpenAPI description on purpose (Bolt's endpoint); fuzzed all the same."""


def routes(app: FastAPI) -> list[Endpoint]:
    """Every (method, path) in the OpenAPI descriptions of the API and of the web UI mounted under it."""
    apps = [app, *(m.app for m in app.routes if isinstance(m, Mount) and isinstance(m.app, FastAPI))]
    found = set(HIDDEN_FROM_OPENAPI)
    for each in apps:
        for path, operations in each.openapi()["paths"].items():
            found.update(Endpoint(method.upper(), path) for method in operations)
    return sorted(found, key=lambda e: (e.path, e.method))


# ---- bodies ----------------------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _examples(repo: str) -> list[Any]:
    github = json.loads((FIXTURES / "github/issue_comment.created.json").read_text())
    github["comment"]["body"] = "@nightshift please fix add()"
    sentry = json.loads((FIXTURES / "sentry/event_alert.json").read_text())
    slack = json.loads(event_callback({"type": "app_mention", "text": "<@U0BOT> fix", "user": "U1"}, event_id="Ev1"))
    return [
        github,
        sentry,
        slack,
        {"repo": repo, "prompt": "fix add()", "base": "main"},
        {"text": "more please"},
        {"text": "a note"},
        {"type": "url_verification", "challenge": "c"},
    ]


@st.composite
def _mutated(draw: st.DrawFn, examples: list[Any]) -> Any:
    """A documented payload with up to three values swapped for random JSON, or deleted."""
    doc = copy.deepcopy(draw(st.sampled_from(examples)))
    for _ in range(draw(st.integers(0, 3))):
        parent, key = _pick(draw, doc)
        if parent is None:
            return draw(JSON)
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(JSON)
    return doc


def _pick(draw: st.DrawFn, doc: Any) -> tuple[Any, Any]:
    parent, key = None, None
    node = doc
    while isinstance(node, (dict, list)) and node and draw(st.integers(0, 3)) > 0:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, draw(st.sampled_from(keys))
        node = node[key]
    return parent, key


def _bodies(examples: list[Any]) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """A body and the content type it claims."""
    json_types = st.sampled_from(["application/json", "application/json; charset=latin-1", "text/plain", None])
    form_types = st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", None])
    as_json = st.one_of(JSON, _mutated(examples)).map(lambda v: json.dumps(v).encode())
    oversized = st.just(b'{"prompt": "' + b"a" * OVERSIZED_BYTES + b'"}')
    invalid_utf8 = st.binary(max_size=60).map(lambda b: b'{"text": "\xff\xfe' + b + b'"}')
    form = st.dictionaries(
        st.sampled_from(["csrf", "token", "name", "repo", "prompt", "base", "text", "payload", "next"]),
        st.one_of(st.just("CSRF"), st.text(max_size=30)),  # CSRF: replaced by the signed-in browser's form token
        max_size=5,
    ).map(lambda d: httpx.QueryParams(d).__str__().encode())
    return st.one_of(
        st.tuples(as_json, json_types),
        st.tuples(st.one_of(oversized, invalid_utf8, st.binary(max_size=200), st.just(b"")), json_types),
        st.tuples(form | invalid_utf8, form_types),
    )


# ---- signatures and headers ------------------------------------------------------------------------------------


def _sig(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def signature_headers(path: str, body: bytes, how: str) -> dict[str, str]:
    """The vendor's signature headers for this body: right, wrong (another secret) or none at all."""
    if how == "none":
        return {}
    secret = "not-the-secret" if how == "wrong" else None
    if path == "/webhooks/github":
        return {
            "X-Hub-Signature-256": "sha256=" + _sig(secret or GITHUB_SECRET, body),
            "X-GitHub-Event": "issue_comment",
            "X-GitHub-Delivery": f"fuzz-{time.monotonic_ns()}",
        }
    if path == "/slack/events":
        ts = str(int(time.time()))
        digest = _sig(secret or SLACK_SECRET, f"v0:{ts}:".encode() + body)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}
    if path == "/webhooks/sentry":
        return {
            "Sentry-Hook-Resource": "event_alert",
            "Sentry-Hook-Timestamp": "1700000000",
            "Request-ID": f"fuzz-{time.monotonic_ns()}",
            "Sentry-Hook-Signature": _sig(secret or SENTRY_SECRET, body),
        }
    if path.startswith("/webhooks/generic/"):
        return {"X-Nightshift-Signature": "sha256=" + _sig(secret or HOOK_SECRET, body)}
    return {"Authorization": f"Bearer {API_TOKEN if secret is None else secret}"}


_WEIRD_HEADERS = st.dictionaries(
    st.sampled_from(["X-GitHub-Event", "X-Slack-Retry-Num", "Sentry-Hook-Resource", "X-Slack-Request-Timestamp"]),
    st.from_regex(r"[!-~]{0,20}", fullmatch=True),  # what a header value may hold
    max_size=2,
)
_PATH_PARAM = st.one_of(st.text(max_size=30), st.sampled_from(["..", "%2e%2e", "a" * 300, "deploy", "nope"]))


def cases(endpoints: list[Endpoint], session_id: str, examples: list[Any]) -> st.SearchStrategy[Case]:
    @st.composite
    def case(draw: st.DrawFn) -> Case:
        hooks = [e for e in endpoints if e.path.startswith(("/webhooks/", "/slack/"))]
        endpoint = draw(st.sampled_from(hooks) | st.sampled_from(endpoints))  # half the cases for the webhooks
        path = endpoint.path
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            value = draw(st.one_of(st.just(session_id), _PATH_PARAM))
            path = path[:start] + quote(value, safe="") + path[end + 1 :]
        body, content_type = draw(_bodies(examples)) if endpoint.method != "GET" else (b"", None)
        headers = signature_headers(path, body, draw(st.sampled_from(["right", "wrong", "none"])))
        headers |= draw(_WEIRD_HEADERS) | {"Connection": "close"}  # a refused body ends its connection; start anew
        if content_type is not None:
            headers["Content-Type"] = content_type
        return Case(endpoint.method, path, headers, body, draw(st.booleans()))

    return case()


# ---- the server ------------------------------------------------------------------------------------------------


def fuzz_settings(data_dir: Path, redis_url: str, slack_api_url: str, repo: str) -> Settings:
    hook = WebhookConfig(
        secret=SecretStr(HOOK_SECRET), repo=repo, prompt="Deploy failed: {{ payload.text }}", origin="payload.id"
    )
    return Settings.model_validate(
        {
            "data_dir": data_dir,
            "redis_url": redis_url,
            "api_token": SecretStr(API_TOKEN),
            "anthropic_api_key": SecretStr("sk-ant-fuzz-not-used"),
            "github_token": SecretStr("ghp_fuzz_not_used"),
            "github_webhook_secret": SecretStr(GITHUB_SECRET),
            "github_api_url": "http://127.0.0.1:9/api/v3",  # nothing listens: intake must not need GitHub
            "slack_bot_token": SecretStr(SLACK_TOKEN),
            "slack_signing_secret": SecretStr(SLACK_SECRET),
            "slack_api_url": slack_api_url,
            "sentry_client_secret": SecretStr(SENTRY_SECRET),
            "webhooks": {"deploy": hook},
            # One client sending thousands of wrong tokens on purpose: the per-client limit would turn the rest of
            # its cases into 429s (that limit has its own tests: tests/web/test_auth_failures.py).
            "auth_failure_limit": 1_000_000,
        }
    )


def make_repo(root: Path) -> Path:
    src, bare = root / "src", root / "remote.git"
    src.mkdir(parents=True)
    (src / "README.md").write_text("# fuzz\n")
    env = {"GIT_AUTHOR_NAME": "F", "GIT_AUTHOR_EMAIL": "f@x", "GIT_COMMITTER_NAME": "F", "GIT_COMMITTER_EMAIL": "f@x"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=src, check=True, capture_output=True, env=env)
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True, capture_output=True)
    return bare


class ServerThread:
    """Runtime.api() on uvicorn, from a thread with its own event loop (lifespans, so stream consumers, included)."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.settings, self.port = settings, port
        self.base_url = f"http://127.0.0.1:{port}"
        self.app: FastAPI | None = None
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        async with AsyncExitStack() as stack:
            rt = await stack.enter_async_context(Runtime.open(self.settings))
            self.app = rt.api()
            self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error"))
            await self._server.serve()

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 20
        while self._server is None or not self._server.started:
            assert time.monotonic() < deadline and self._thread.is_alive(), "the server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        assert self._server is not None
        self._server.should_exit = True
        self._thread.join(20)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


@dataclass
class FuzzWorld:
    server: ServerThread
    anonymous: httpx.Client
    signed_in: httpx.Client
    csrf: str
    session_id: str
    endpoints: list[Endpoint]
    examples: list[Any]

    def send(self, case: Case, outcome: Outcome) -> None:
        client = self.signed_in if case.signed_in else self.anonymous
        body = case.body.replace(b"CSRF", self.csrf.encode())
        try:
            # Streamed, and only the first chunk read: an SSE route answers with a stream that never ends.
            with client.stream(case.method, case.path, content=body, headers=case.headers) as r:
                first = next(r.iter_bytes(), b"")
        except httpx.TransportError as e:
            outcome.record(case, None, f"connection failed: {e!r}")
            return
        outcome.record(case, r.status_code, first.decode("utf-8", errors="replace"))


@contextmanager
def fuzz_world(root: Path, redis_url: str, port: int) -> Iterator[FuzzWorld]:
    repo = make_repo(root)
    with SlackStandIn(SLACK_TOKEN) as slack:
        server = ServerThread(fuzz_settings(root / "data", redis_url, slack.base_url, str(repo)), port)
        server.start()
        try:
            with (
                httpx.Client(base_url=server.base_url, timeout=60) as anonymous,
                httpx.Client(base_url=server.base_url, timeout=60) as signed_in,
            ):
                csrf = _sign_in(signed_in)
                created = anonymous.post(
                    "/api/sessions",
                    json={"repo": str(repo), "prompt": "seed"},
                    headers={"Authorization": f"Bearer {API_TOKEN}"},
                )
                assert created.status_code == 201, created.text
                assert server.app is not None
                yield FuzzWorld(
                    server, anonymous, signed_in, csrf, created.json()["id"], routes(server.app), _examples(str(repo))
                )
        finally:
            server.stop()


def _sign_in(client: httpx.Client) -> str:
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    r = client.post("/login", data={"csrf": csrf.group(1), "name": "fuzzer", "token": API_TOKEN})
    assert r.status_code == 303, r.text
    page = client.get("/sessions/new")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    return token.group(1)
