"""The web UI's pages and forms against a real Redis: sign-in required everywhere, CSRF, escaping, the session
page's rendering, and the actions (start, follow up, stop) going through the same functions as the API."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from web_helpers import TOKEN, csrf_of, seed, sign_in

from control_plane.config import Settings
from control_plane.runtime import Runtime
from control_plane.store import SessionStore
from control_plane.web.app import create_web_app
from control_plane.web.config import web_config
from harness.events import (
    BranchPushed,
    Event,
    ModelTurnEvent,
    Note,
    RunFinished,
    StatusChanged,
    ToolResult,
    ToolStarted,
    UserMessage,
)
from harness.messages import TextBlock, ToolUseBlock, Usage


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path / "data", "api_token": TOKEN, "max_prompt_bytes": 10_000})


@pytest.fixture
def store(redis: Redis) -> SessionStore:
    return SessionStore(redis)


@pytest.fixture
def app(store: SessionStore, settings: Settings) -> FastAPI:
    return create_web_app(store, web_config(settings, TOKEN), settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nightshift.test") as c:
        yield c


@pytest.fixture
async def ana(client: httpx.AsyncClient) -> str:
    """`client` signed in as ana; the value is her form token."""
    return await sign_in(client, "ana")


def turn(step: int, *blocks: TextBlock | ToolUseBlock) -> ModelTurnEvent:
    usage = Usage(input_tokens=100, output_tokens=20)
    return ModelTurnEvent(
        step=step, content=list(blocks), stop_reason="tool_use", usage=usage, model="m", cost_usd=0.01
    )


# --- sign-in ------------------------------------------------------------------------------------------------------


PAGES = [
    "/",
    "/sessions",
    "/sessions/new",
    "/sessions/SID",
    "/dashboard",
    "/automations",
    "/settings",
    "/settings/repo?repo=x",
]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_sends_a_stranger_to_sign_in(
    client: httpx.AsyncClient, store: SessionStore, path: str
) -> None:
    session = await seed(store)
    path = path.replace("SID", session.id)
    r = await client.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")
    assert "Sign in" in (await client.get(r.headers["location"])).text


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/sessions", {"repo": "/x", "prompt": "p"}),
        ("/sessions/SID/messages", {"text": "hi"}),
        ("/sessions/SID/stop", {}),
        ("/logout", {}),
    ],
)
async def test_every_action_refuses_a_stranger_and_changes_nothing(
    client: httpx.AsyncClient, store: SessionStore, path: str, data: dict[str, str]
) -> None:
    session = await seed(store)
    before = await store.events(session.id)
    r = await client.post(path.replace("SID", session.id), data={**data, "csrf": "anything"})
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/sessions")
    assert await store.events(session.id) == before
    assert (await store.get(session.id)).status == "queued"


async def test_the_live_stream_answers_a_stranger_401(client: httpx.AsyncClient, store: SessionStore) -> None:
    session = await seed(store)
    r = await client.get(f"/sessions/{session.id}/live")
    assert r.status_code == 401  # not a redirect: EventSource would retry an HTML page forever


async def test_sign_in_with_the_token_sets_a_safe_cookie_and_sign_out_clears_it(client: httpx.AsyncClient) -> None:
    form = await client.get("/login?next=/dashboard")
    r = await client.post("/login", data={"csrf": csrf_of(form.text), "name": "ana", "token": TOKEN})
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    page = await client.get("/dashboard")
    assert page.status_code == 200 and "Signed in as <strong>ana</strong>" in page.text
    r = await client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    assert (await client.get("/dashboard")).status_code == 303


@pytest.mark.parametrize(
    ("name", "token", "status", "says"),
    [
        ("ana", "wrong-token", 401, "not this server&#39;s API token"),
        ("ana", TOKEN + "x", 401, "not this server&#39;s API token"),
        ("<script>", TOKEN, 400, "letters, digits"),
        ("", TOKEN, 400, "name: Field required"),
    ],
)
async def test_sign_in_refuses_a_wrong_token_or_a_bad_name(
    client: httpx.AsyncClient, name: str, token: str, status: int, says: str
) -> None:
    form = await client.get("/login")
    r = await client.post("/login", data={"csrf": csrf_of(form.text), "name": name, "token": token})
    assert r.status_code == status, r.text
    assert says in r.text
    assert (await client.get("/sessions")).status_code == 303  # still signed out


async def test_sign_in_form_needs_its_form_token(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    r = await client.post("/login", data={"csrf": "forged", "name": "ana", "token": TOKEN})
    assert r.status_code == 403
    assert (await client.get("/sessions")).status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"])
async def test_next_is_never_an_open_redirect(client: httpx.AsyncClient, target: str) -> None:
    form = await client.get("/login", params={"next": target})
    r = await client.post("/login", data={"csrf": csrf_of(form.text), "name": "ana", "token": TOKEN})
    assert r.headers["location"] == "/sessions"


async def test_a_tampered_cookie_is_not_a_session(client: httpx.AsyncClient, ana: str) -> None:
    value = client.cookies["ns_web"]
    payload, _, signature = value.partition(".")
    client.cookies.set("ns_web", payload[:-2] + "xx." + signature, domain="nightshift.test")
    assert (await client.get("/sessions")).status_code == 303


async def test_rotating_the_api_token_signs_everyone_out(
    client: httpx.AsyncClient, ana: str, store: SessionStore, settings: Settings
) -> None:
    rotated = create_web_app(store, web_config(settings, TOKEN + "-rotated"), settings)
    transport = httpx.ASGITransport(app=rotated)
    async with httpx.AsyncClient(transport=transport, base_url="http://nightshift.test", cookies=client.cookies) as c:
        assert (await c.get("/sessions")).status_code == 303


# --- CSRF -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
@pytest.mark.parametrize(("path", "data"), [("/sessions/SID/messages", {"text": "hi"}), ("/sessions/SID/stop", {})])
async def test_actions_need_the_form_token(
    client: httpx.AsyncClient, ana: str, store: SessionStore, csrf: str | None, path: str, data: dict[str, str]
) -> None:
    session = await seed(store)
    before = await store.events(session.id)
    form = {**data, **({"csrf": csrf} if csrf is not None else {})}
    r = await client.post(path.replace("SID", session.id), data=form)
    assert r.status_code == 403 and "Form expired" in r.text
    assert await store.events(session.id) == before


async def test_a_form_token_from_before_sign_in_is_worthless_after(
    client: httpx.AsyncClient, store: SessionStore
) -> None:
    before = csrf_of((await client.get("/login")).text)
    after = await sign_in(client)
    assert before != after
    session = await seed(store)
    r = await client.post(f"/sessions/{session.id}/messages", data={"csrf": before, "text": "hi"})
    assert r.status_code == 403


# --- escaping and secrets -------------------------------------------------------------------------------------------


async def test_tool_output_and_messages_are_shown_as_text(
    client: httpx.AsyncClient, ana: str, store: SessionStore
) -> None:
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    session = await seed(
        store,
        title=evil,
        by="ana",
        cost_usd=0.5,
        events=[
            UserMessage(text=evil, author="bo"),
            turn(1, TextBlock(text=evil), ToolUseBlock(id="t1", name="shell", input={"command": f"echo '{evil}'"})),
            ToolStarted(tool_use_id="t1", name="shell", summary=evil),
            ToolResult(tool_use_id="t1", name="shell", output=evil, is_error=True),
            Note(text=evil),
            RunFinished(outcome="failed", summary=evil),
        ],
    )
    for path in [f"/sessions/{session.id}", "/sessions", "/dashboard"]:
        html = (await client.get(path)).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(" in html, path
    r = await client.get(f"/sessions/{session.id}")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"


async def test_repository_urls_never_show_their_credentials(
    client: httpx.AsyncClient, ana: str, store: SessionStore
) -> None:
    repo = "https://x-access-token:ghs_SeCrEtToKeN123@github.com/acme/calc.git"
    pushed = BranchPushed(branch="nightshift/fix", commit="c" * 40, remote=repo)
    session = await seed(store, repo=repo, events=[pushed])
    for path in [f"/sessions/{session.id}", "/sessions", "/settings", "/dashboard", "/sessions/new"]:
        html = (await client.get(path)).text
        assert "ghs_SeCrEtToKeN123" not in html and "x-access-token" not in html, path
    html = (await client.get(f"/sessions/{session.id}")).text
    assert 'href="https://github.com/acme/calc/tree/nightshift/fix"' in html


# --- the session page -----------------------------------------------------------------------------------------------


async def test_session_page_shows_the_conversation_tool_calls_and_diffs(
    client: httpx.AsyncClient, ana: str, store: SessionStore
) -> None:
    edit = {
        "path": "calc.py",
        "old_text": "def add(a, b):\n    return a - b\n",
        "new_text": "def add(a, b):\n    return a + b\n",
    }
    session = await seed(
        store,
        title="make add add",
        events=[
            UserMessage(text="also update the docs", author="bo"),
            turn(
                1,
                TextBlock(text="Looking at calc.py"),
                ToolUseBlock(id="t_edit", name="edit_file", input=edit),
                ToolUseBlock(id="t_write", name="write_file", input={"path": "NOTES.md", "content": "one\ntwo\n"}),
                ToolUseBlock(id="t_sh", name="shell", input={"command": "pytest -q"}),
            ),
            ToolStarted(tool_use_id="t_edit", name="edit_file", summary="edit_file calc.py"),
            ToolResult(tool_use_id="t_edit", name="edit_file", output="replaced 1 occurrence(s) in calc.py"),
            ToolStarted(tool_use_id="t_sh", name="shell", summary="shell pytest -q"),
            ToolResult(tool_use_id="t_sh", name="shell", output="exit code 0\n1 passed", duration_ms=1500),
            BranchPushed(branch="nightshift/make-add", commit="ab" * 20, remote="/srv/repos/calc.git"),
        ],
    )
    html = (await client.get(f"/sessions/{session.id}")).text
    assert '<strong class="who">bo</strong>' in html and "also update the docs" in html  # who said what
    assert "People</dt><dd>ana, bo</dd>" in html
    assert '<pre class="cmd"><code>$ pytest -q</code></pre>' in html
    assert re.search(r'class="d-del">.*?return a - b', html, re.S) and re.search(
        r'class="d-add">.*?return a \+ b', html, re.S
    )
    assert html.count('class="d-add"') == 3  # the edit's new line, and write_file's two lines
    # each result sits inside its own tool call, folded
    call = html[html.index('id="tool-t_sh"') :]
    assert call.index("<details") < call.index("1 passed") < call.index("</section>")
    assert "Pushed: <code>nightshift/make-add</code>" in html  # a local path: named, not linked
    assert f'data-stream="/sessions/{session.id}/live?after=' in html


async def test_session_page_cursor_is_the_last_event_rendered(
    client: httpx.AsyncClient, ana: str, store: SessionStore
) -> None:
    session = await seed(store, events=[Note(text="one"), Note(text="two")])
    html = (await client.get(f"/sessions/{session.id}")).text
    last = (await store.events(session.id))[-1].id
    assert f"live?after={last}" in html
    assert html.count('class="ev ') == len(await store.events(session.id))


async def test_a_long_session_renders_every_event_once(
    client: httpx.AsyncClient, ana: str, store: SessionStore
) -> None:
    events: list[Event] = []
    for step in range(1, 151):
        use = f"t{step}"
        events += [
            turn(step, ToolUseBlock(id=use, name="shell", input={"command": f"echo {step}"})),
            ToolStarted(tool_use_id=use, name="shell", summary=f"shell echo {step}"),
            ToolResult(tool_use_id=use, name="shell", output=f"exit code 0\nline {step}\n" * 20),
        ]
    session = await seed(store, events=events)
    html = (await client.get(f"/sessions/{session.id}")).text
    ids = re.findall(r'id="(ev-[\d-]+)"', html)
    assert len(ids) == len(set(ids)) == len(await store.events(session.id))


async def test_unknown_session_is_a_404_page(client: httpx.AsyncClient, ana: str) -> None:
    r = await client.get("/sessions/nope")
    assert r.status_code == 404 and "no session &#39;nope&#39;" in r.text and "<!doctype html>" in r.text


async def test_every_event_kind_has_a_template() -> None:
    from typing import get_args

    from control_plane.web.templating import environment
    from harness.events import Event

    union = get_args(get_args(Event)[0])
    kinds = {cls.model_fields["kind"].default for cls in union}
    env = environment()
    assert {k for k in kinds if f"events/{k}.html" not in env.list_templates()} == set()


# --- actions --------------------------------------------------------------------------------------------------------


async def test_start_a_session_from_the_form(
    client: httpx.AsyncClient, ana: str, store: SessionStore, remote: Path
) -> None:
    r = await client.post(
        "/sessions", data={"csrf": ana, "repo": str(remote), "base": "main", "prompt": "fix add\nnow"}
    )
    assert r.status_code == 303
    session_id = r.headers["location"].rsplit("/", 1)[1]
    session = await store.get(session_id)
    assert (session.source, session.requested_by, session.base, session.title) == ("web", "ana", "main", "fix add")
    events = [e.event for e in await store.events(session_id)]
    assert [e.kind for e in events] == ["session_created", "status_changed", "user_message"]
    assert isinstance(events[2], UserMessage) and events[2].author == "ana"


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"repo": "/no/such/repo", "prompt": "x"}, "cannot reach repository"),
        ({"repo": "REMOTE", "base": "nope", "prompt": "x"}, "is not a branch or tag"),
        ({"repo": "REMOTE", "base": "bad ref;", "prompt": "x"}, "must be a branch"),
        ({"repo": "REMOTE", "prompt": "x" * 20_000}, "the limit is 10,000"),
    ],
)
async def test_a_refused_start_shows_why_keeps_the_input_and_writes_nothing(
    client: httpx.AsyncClient, ana: str, redis: Redis, remote: Path, form: dict[str, str], says: str
) -> None:
    data = {k: str(remote) if v == "REMOTE" else v for k, v in form.items()}
    r = await client.post("/sessions", data={"csrf": ana, **data})
    assert r.status_code == 400 and says in r.text
    assert f'value="{data["repo"]}"' in r.text
    assert await redis.zcard("ns:sessions") == 0


async def test_follow_up_is_posted_as_the_signed_in_person(
    client: httpx.AsyncClient, ana: str, store: SessionStore
) -> None:
    session = await seed(store, status="running")
    r = await client.post(f"/sessions/{session.id}/messages", data={"csrf": ana, "text": "and the docs"})
    assert (r.status_code, r.headers["location"]) == (303, f"/sessions/{session.id}#follow-up")
    [(_, message)] = (await store.inbox(session.id, after=None))[-1:]
    assert (message.text, message.author) == ("and the docs", "ana")
    # the page's script posts for JSON and stays on the page; an ended session is reopened
    await store.set_status(session.id, "finished")
    headers = {"Accept": "application/json"}
    r = await client.post(f"/sessions/{session.id}/messages", data={"csrf": ana, "text": "one more"}, headers=headers)
    assert (r.status_code, r.json()) == (202, {"reopened": True})
    assert (await store.get(session.id)).status == "queued"


async def test_an_empty_or_oversized_follow_up_is_refused(
    client: httpx.AsyncClient, ana: str, store: SessionStore
) -> None:
    session = await seed(store)
    before = await store.events(session.id)
    for text in ["   ", "x" * 20_000]:
        r = await client.post(f"/sessions/{session.id}/messages", data={"csrf": ana, "text": text})
        assert r.status_code == 400
    headers = {"Accept": "application/json"}
    r = await client.post(f"/sessions/{session.id}/messages", data={"csrf": ana, "text": "  "}, headers=headers)
    assert r.json() == {"detail": "the message is empty"}
    assert await store.events(session.id) == before


async def test_stop_cancels_and_says_who_stopped_it(client: httpx.AsyncClient, ana: str, store: SessionStore) -> None:
    queued, running = await seed(store), await seed(store, status="running")
    r = await client.post(f"/sessions/{queued.id}/stop", data={"csrf": ana})
    assert r.status_code == 303
    assert (await store.get(queued.id)).status == "cancelled"
    r = await client.post(f"/sessions/{running.id}/stop", data={"csrf": ana}, headers={"Accept": "application/json"})
    assert r.json() == {"result": "requested"}
    assert (await store.get(running.id)).cancel_requested
    notes = [e.event for e in await store.events(running.id) if isinstance(e.event, Note)]
    assert [n.text for n in notes] == ["ana stopped the session"]


async def test_stop_button_shows_only_while_the_session_can_be_stopped(
    client: httpx.AsyncClient, ana: str, store: SessionStore
) -> None:
    running, done = await seed(store, status="running"), await seed(store, status="finished")
    assert re.search(r'class="stop" data-live="stop">', (await client.get(f"/sessions/{running.id}")).text)
    assert re.search(r'class="stop" data-live="stop" hidden>', (await client.get(f"/sessions/{done.id}")).text)


async def test_status_changes_render_as_events(client: httpx.AsyncClient, ana: str, store: SessionStore) -> None:
    session = await seed(store, events=[StatusChanged(status="failed", reason="budget: max steps")])
    html = (await client.get(f"/sessions/{session.id}")).text
    assert '<span class="badge status-failed">failed</span> — budget: max steps' in html


async def test_an_unknown_path_is_an_html_404(client: httpx.AsyncClient, ana: str) -> None:
    r = await client.get("/no/such/page")
    assert r.status_code == 404 and "<!doctype html>" in r.text and "Signed in as <strong>ana</strong>" in r.text


async def test_the_composition_root_serves_the_api_and_the_web_ui_side_by_side(rt: Runtime) -> None:
    app = rt.api()
    token = rt.api_token()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nightshift.test") as c:
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/api/sessions", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        assert (await c.get("/openapi.json")).status_code == 200
        assert (await c.get("/sessions")).headers["location"] == "/login?next=/sessions"
        await sign_in(c, token=token)
        assert (await c.get("/sessions")).status_code == 200
        assert (await c.get("/api/sessions")).status_code == 401  # the cookie is not an API credential
        css = await c.get("/static/app.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("value", ["garbage", "a.b", "%ff%00.sig", "", "x" * 5000])
async def test_a_malformed_cookie_is_simply_signed_out(client: httpx.AsyncClient, value: str) -> None:
    client.cookies.set("ns_web", value, domain="nightshift.test")
    r = await client.get("/sessions")
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/sessions")
