"""The web UI in real headless Chromium (Debian's package, driven by Playwright) against a real `nightshift serve`:
sign in, start a session that the scripted model works through, watch its events arrive live, send a follow-up and
see the answer, stop a session, open the dashboard and settings. Every page is saved as a screenshot under
artifacts/screenshots/; with NIGHTSHIFT_README_SCREENSHOTS=1 the session page also goes to docs/screenshots/."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from conftest import free_port, sh
from playwright.sync_api import Browser, Page, expect, sync_playwright
from spine import SECRET, marker
from web_helpers import TOKEN

from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


class Served:
    def __init__(self, url: str, standin: AnthropicStandIn, remote: Path) -> None:
        self.url, self.standin, self.remote = url, standin, remote


def make_remote(where: Path) -> Path:
    src, bare = where / "src", where / "calc.git"
    src.mkdir(parents=True)
    (src / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (src / "README.md").write_text("# calc\n")
    sh("git", "init", "-q", "-b", "main", cwd=src)
    sh("git", "add", "-A", cwd=src)
    sh("git", "commit", "-q", "-m", "initial", cwd=src)
    sh("git", "clone", "-q", "--bare", str(src), str(bare))
    return bare


@pytest.fixture(scope="module")
def served(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`nightshift serve` (API, web UI and a worker in one process) on the test Redis, with the scripted model."""
    home = tmp_path_factory.mktemp("browser")
    redis.Redis.from_url(redis_url).flushall()
    port = free_port()
    with AnthropicStandIn() as standin:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "NIGHTSHIFT_DATA_DIR": str(home / "data"),
            "REDIS_URL": redis_url,
            "NIGHTSHIFT_API_TOKEN": TOKEN,
            "ANTHROPIC_API_KEY": SECRET,
            "ANTHROPIC_BASE_URL": standin.base_url,
            "NIGHTSHIFT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        cli = str(Path(sys.executable).parent / "nightshift")
        log = (home / "serve.log").open("w")
        proc = subprocess.Popen([cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, proc, home / "serve.log")
            yield Served(url, standin, make_remote(home))
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"nightshift serve exited:\n{log.read_text()}"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.1)
    raise AssertionError(f"nightshift serve did not answer /healthz:\n{log.read_text()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium is required for the browser tests: run ./install.sh"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    context = browser.new_context(base_url=served.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    # No script errors and no CSP violations on any page (a refused sign-in is a 401 page: expected).
    assert [e for e in errors if "status of 401" not in e] == []


def shoot(page: Page, name: str, *, readme: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if readme and os.environ.get("NIGHTSHIFT_README_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "screenshots" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)


def sign_in(page: Page, name: str = "ana") -> None:
    page.goto("/sessions")
    expect(page).to_have_url("/login?next=/sessions")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()


def start_session(page: Page, served: Served, prompt: str) -> str:
    page.get_by_role("link", name="New session", exact=True).first.click()
    page.get_by_label("Repository").fill(str(served.remote))
    page.get_by_label("Base branch").fill("main")
    page.get_by_label("What should the agent do?").fill(prompt)
    page.get_by_role("button", name="Start as ana").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(prompt.splitlines()[0])
    return page.url.rsplit("/", 1)[1]


def test_sign_in_page(page: Page, served: Served) -> None:
    page.goto("/sessions")
    expect(page.get_by_role("heading", name="Sign in to Nightshift")).to_be_visible()
    shoot(page, "login")
    page.get_by_label("Your name").fill("ana")
    page.get_by_label("API token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not this server's API token")


def test_start_watch_live_and_follow_up(page: Page, served: Served) -> None:
    tag = marker()
    edit = {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}
    check = "sleep 1; python3 -c 'from calc import add; assert add(2, 3) == 5; print(\"<ok>\")'"
    answered: list[str] = []

    def answer(req: RecordedRequest) -> Reply:
        answered.append(req.user_text())
        return Reply("Added a docstring to add(), as you asked.")

    served.standin.register(
        Script(
            [
                Reply("Let me look at calc.py first.", tool_use("read_file", {"path": "calc.py"})),
                Reply(tool_use("edit_file", edit)),
                Reply(tool_use("shell", {"command": check})),
                Reply(tool_use("finish", {"summary": "add() adds now; checked add(2, 3) == 5."})),
                answer,
            ],
            key=tag,
        )
    )
    sign_in(page)
    session_id = start_session(page, served, f"Make add() add {tag}\nIt subtracts.")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads: every update below must be live

    log = page.locator("#log")
    expect(page.locator('[data-live="connection"]')).to_have_text("Live")
    expect(log.locator(".tool-call .d-del td:last-child")).to_have_text(["removed:return a - b"])
    expect(log.locator(".tool-call .d-add td:last-child")).to_have_text(["added:return a + b"])
    shell = log.locator(".tool-call").filter(has_text="sleep 1")
    expect(shell.locator(".cmd")).to_contain_text("python3 -c")
    shell.locator("summary").click()  # the output is folded until asked for
    expect(shell.locator(".out")).to_contain_text("<ok>")  # shown as text, not markup
    expect(page.locator('[data-live="status"]')).to_have_text("finished")
    expect(log.locator(".ev-push")).to_contain_text("Pushed:")
    expect(page.locator('[data-live="unpushed"]')).to_be_hidden()
    expect(page.locator('[data-live="cost"]')).not_to_have_text("$0.00")
    assert page.evaluate("window.__sameDocument") is True

    page.get_by_label("Message to the agent", exact=False).fill("Please also add a docstring.")
    page.get_by_role("button", name="Send as ana").click()
    expect(page.locator(".form-state")).to_have_text("Sent; a new run starts.")
    expect(log.locator(".msg-person").last).to_contain_text("Please also add a docstring.")
    expect(log.locator(".msg-person .who").last).to_have_text("ana")
    expect(log.locator(".msg-agent").last).to_contain_text("Added a docstring to add(), as you asked.")
    expect(page.locator('[data-live="status"]')).to_have_text("finished")
    assert page.evaluate("window.__sameDocument") is True
    assert answered == ["[ana]: Please also add a docstring."]
    shoot(page, "session", readme=True)

    # a late joiner sees the same history, rendered by the server, with nothing twice
    page.reload()
    ids = page.locator("#log [id^=ev-]").evaluate_all("nodes => nodes.map(n => n.id)")
    assert len(ids) == len(set(ids)) > 10
    page.goto("/sessions")
    expect(page.get_by_role("link", name=f"Make add() add {tag}")).to_be_visible()
    page.get_by_label("Source").select_option("web")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    shoot(page, "sessions")
    assert session_id in page.get_by_role("link", name=f"Make add() add {tag}").get_attribute("href")


def test_stop_a_running_session(page: Page, served: Served) -> None:
    tag = marker()
    served.standin.register(Script([Reply(tool_use("shell", {"command": "sleep 60"}))], key=tag))
    sign_in(page)
    start_session(page, served, f"Wait a minute {tag}")
    expect(page.locator('[data-live="status"]')).to_have_text("running")
    expect(page.locator(".tool-running")).to_be_visible()
    page.get_by_role("button", name="Stop session").click()
    expect(page.locator('[data-live="status"]')).to_have_text("cancelled")
    expect(page.locator("#log")).to_contain_text("ana stopped the session")
    expect(page.get_by_role("button", name="Stop session")).to_be_hidden()
    shoot(page, "stopped")


def test_dashboard_and_settings(page: Page, served: Served) -> None:
    sign_in(page)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Sessions per day, by source")).to_be_visible()
    expect(page.locator("svg[role=img]")).to_have_count(3)
    expect(page.locator(".series-web").first).to_be_visible()
    shoot(page, "dashboard")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Repositories")).to_be_visible()
    assert TOKEN not in page.content() and SECRET not in page.content()
    shoot(page, "settings")


def test_narrow_screen(browser: Browser, served: Served) -> None:
    context = browser.new_context(base_url=served.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing forces sideways scrolling
        page.locator("tbody a").first.click()
        expect(page.locator("#log")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shoot(page, "session-narrow")
    finally:
        context.close()
