"""The dashboard's numbers and charts, the settings pages (secrets never shown), repo config, and artifacts."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import sh
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis
from web_helpers import TOKEN, seed, sign_in

from control_plane.config import Settings
from control_plane.git import Mirrors
from control_plane.models import Session
from control_plane.pull_requests import PullRequestRecord, PullRequestStore
from control_plane.store import SessionStore
from control_plane.web import charts
from control_plane.web.app import create_web_app
from control_plane.web.config import web_config
from control_plane.web.cookies import Viewer
from control_plane.web.dashboard import fleet, window
from control_plane.web.facts import SessionFacts, facts_for, fold
from control_plane.web.settings_view import plain, without_password
from harness.events import ArtifactSaved, BranchPushed, LoggedEvent, Note, RunFinished, RunStarted

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC).timestamp()
DAY = 86_400


def session(
    n: int, *, at: float, source: str = "cli", repo: str = "/r/a.git", cost: float = 0.0, model: str | None = None
) -> Session:
    return Session.model_validate(
        {
            "id": f"s{n}",
            "repo": repo,
            "base": None,
            "branch": f"b{n}",
            "title": f"task {n}",
            "source": source,
            "requested_by": "ana",
            "status": "finished",
            "created_at": at,
            "updated_at": at,
            "cost_usd": cost,
            "model": model,
        }
    )


def logged(n: int, event: object) -> LoggedEvent:
    return LoggedEvent.model_validate({"id": f"{n}-0", "event": event})


# --- pure: digests and fleet numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "first_push_at", "active_s", "open_run"),
    [
        ([], None, 0.0, None),
        ([RunStarted(run=1, worker="w", at=100), RunFinished(outcome="finished", summary="", at=160)], None, 60, None),
        ([BranchPushed(branch="b", commit="c", remote="r", checkpoint=True, at=50)], None, 0, None),
        (
            [
                BranchPushed(branch="b", commit="c", remote="r", at=70),
                BranchPushed(branch="b", commit="d", remote="r", at=90),
            ],
            70,
            0,
            None,
        ),
        (  # a crash: the run is resumed by another worker and ends once
            [
                RunStarted(run=1, worker="w1", at=100),
                RunStarted(run=1, worker="w2", resumed=True, at=130),
                RunFinished(outcome="finished", summary="", at=200),
                RunStarted(run=2, worker="w2", at=300),
            ],
            None,
            100,
            300,
        ),
    ],
)
def test_fold_digests_a_log(
    events: list[object], first_push_at: float | None, active_s: float, open_run: float | None
) -> None:
    facts = SessionFacts()
    for n, event in enumerate(events, start=1):
        facts = fold(facts, logged(n, event))
    assert (facts.first_push_at, facts.active_s, facts.run_started_at) == (first_push_at, active_s, open_run)
    assert facts.cursor == (f"{len(events)}-0" if events else "0-0")


def test_window_is_whole_utc_days_ending_today() -> None:
    since, days = window(NOW, 3)
    assert days == ["2026-03-08", "2026-03-09", "2026-03-10"]
    assert since == datetime(2026, 3, 8, tzinfo=UTC).timestamp()


def test_fleet_numbers() -> None:
    rows = [
        (session(1, at=NOW - 2 * DAY, source="slack", cost=2.0), SessionFacts(first_push_at=NOW - 2 * DAY + 600)),
        (session(2, at=NOW - DAY, source="web", cost=0.5, repo="/r/b.git"), SessionFacts(active_s=30)),
        (
            session(3, at=NOW - 60, source="web", cost=1.0, model="openai:qwen"),
            SessionFacts(first_push_at=NOW, active_s=300),
        ),
        (session(4, at=NOW - 40 * DAY, source="cli", cost=99.0), SessionFacts(active_s=9999)),  # outside
    ]
    prs = [
        PullRequestRecord(
            key="acme/a#1",
            repo="acme/a",
            number=1,
            url="u",
            session_id="s1",
            source="slack",
            requested_by="ana",
            opened_at=NOW - 2 * DAY + 900,
            state="merged",
            merged_at=NOW - DAY,
        ),
        PullRequestRecord(
            key="acme/a#2",
            repo="acme/a",
            number=2,
            url="u",
            session_id="s3",
            source="web",
            requested_by="ana",
            opened_at=NOW - 30,
            comments=3,
        ),
    ]
    f = fleet(rows, prs, now=NOW, days=7, model_of=lambda s: s.model or "claude-sonnet-4-6")
    assert (f.sessions, f.cost_usd, f.pushed) == (3, 3.5, 2)
    assert f.median_time_to_push_s == (600 + 60) / 2
    assert (f.prs.opened, f.prs.merged, f.merge_rate) == (2, 1, 0.5)
    assert f.median_time_to_pr_s == (900 + 30) / 2
    assert {name: (t.opened, t.merged, t.comments) for name, t in f.prs_by_repo.items()} == {"acme/a": (2, 1, 3)}
    by_model = {name: (t.opened, t.merged, t.comments_per_pr) for name, t in f.prs_by_model.items()}
    assert by_model == {"claude-sonnet-4-6": (1, 1, 0.0), "openai:qwen": (1, 0, 3.0)}
    assert f.sources == ["web", "slack"]
    assert f.sessions_by_day["2026-03-10"] == {"web": 1}
    assert f.prs_by_day["2026-03-08"] == {"pushed": 1, "opened": 1}
    assert f.prs_by_day["2026-03-09"] == {"merged": 1}
    assert f.cost_by_repo == [("/r/a.git", 3.0), ("/r/b.git", 0.5)]
    assert [(r.session.id, r.value) for r in f.slowest] == [("s3", 300), ("s2", 30)]
    assert [r.session.id for r in f.most_expensive] == ["s1", "s3", "s2"]


def test_column_chart_geometry() -> None:
    chart = charts.columns("Sessions", ["d1", "d2"], {"web": [1, 3], "cli": [1, 0]}, lambda v: f"{v:.0f}")
    heights = {r.title: round(r.h, 1) for r in chart.rects}
    full = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert heights == {"d1: 1 web": round(full / 3, 1), "d1: 1 cli": round(full / 3, 1), "d2: 3 web": full}
    stacked = [r for r in chart.rects if r.title.startswith("d1")]
    assert stacked[0].y == pytest.approx(stacked[1].y + stacked[1].h)  # the second sits on the first
    assert chart.table_rows == [["d1", "1", "1"], ["d2", "3", "0"]]
    assert charts.bars([("a", 2.0, None), ("b", 1.0, "/x")], str)[1].percent == 50.0


@pytest.mark.parametrize(("top", "marks"), [(1, ["0", "1"]), (3, ["0", "1", "3"]), (10, ["0", "5", "10"])])
def test_count_axes_are_marked_at_whole_numbers(top: int, marks: list[str]) -> None:
    chart = charts.columns("n", ["d"], {"n": [top]}, lambda v: f"{v:g}", whole=True)
    assert [t.text for t in chart.y_ticks] == marks
    full = charts.HEIGHT - charts.TOP - charts.BOTTOM
    for tick in chart.y_ticks:  # each mark sits at its value's height
        assert tick.y == pytest.approx(charts.TOP + full * (1 - float(tick.text) / top))


# --- pages ------------------------------------------------------------------------------------------------------------


def every_secret(tmp_path: Path) -> tuple[Settings, list[str]]:
    """Settings with every secret field set to a value of its own, plus a Redis URL with a password."""
    values: dict[str, object] = {"data_dir": tmp_path / "data", "redis_url": "redis://:r3dis-pa55word@10.0.0.5:6379/0"}
    secrets = ["r3dis-pa55word"]
    for name, field in Settings.model_fields.items():
        if "SecretStr" in str(field.annotation):
            values[name] = SecretStr(f"sentinel-{name}-7f3e9a")
            secrets.append(f"sentinel-{name}-7f3e9a")
    values["github_oauth_org"] = "acme"
    values["repo_sandboxes"] = {"*": {"env": {"DATABASE_URL": "postgres://u:scoped-s3cret@db/x"}}}
    secrets.append("scoped-s3cret")
    return Settings.model_validate(values), secrets


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path / "data", "api_token": TOKEN})


@pytest.fixture
async def client(redis: Redis, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_web_app(SessionStore(redis), web_config(settings, TOKEN), settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nightshift.test") as c:
        await sign_in(c)
        yield c


async def test_no_page_ever_shows_a_secret(redis: Redis, tmp_path: Path) -> None:
    settings, secrets = every_secret(tmp_path)
    assert settings.api_token is not None
    token = settings.api_token.get_secret_value()
    app: FastAPI = create_web_app(SessionStore(redis), web_config(settings, token), settings)
    store = SessionStore(redis)
    s = await seed(store, events=[Note(text="hello")])
    paths = [
        "/sessions",
        "/sessions/new",
        f"/sessions/{s.id}",
        "/dashboard",
        "/settings",
        f"/settings/repo?repo={s.repo}",
        "/sessions/nope",
    ]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nightshift.test") as c:
        pages = [(await c.get("/login")).text]
        # GitHub sign-in is configured, so the token form is off: sign in through the cookie the app would set
        jar = app.state.cookies
        c.cookies.set("ns_web", jar.encode(jar.new(viewer=Viewer(login="ana", name="ana", via="github"))))
        for path in paths:
            r = await c.get(path)
            assert r.status_code in (200, 404), (path, r.status_code)
            pages.append(r.text)
    assert len(secrets) >= 6  # the API token, the model keys, GitHub's, Slack's, the OAuth secret...
    for html in pages:
        for secret in secrets:
            assert secret not in html
    settings_page = pages[paths.index("/settings") + 1]  # pages[0] is the sign-in page
    assert "<code>github_webhook_secret</code></th><td><em>set</em>" in settings_page
    assert "redis://:••••@10.0.0.5:6379/0" in settings_page


def test_secret_settings_are_typed_as_secrets() -> None:
    """The settings page hides values by type: a secret typed as plain str would be shown."""
    looks_secret = re.compile(r"(secret|token|password|api_key|private_key)$")
    plain_typed = [
        name
        for name, field in Settings.model_fields.items()
        if looks_secret.search(name) and "SecretStr" not in str(field.annotation)
    ]
    assert plain_typed == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("redis://:pw@h:6379/0", "redis://:••••@h:6379/0"),
        ("redis://user:pw@h/0", "redis://user:••••@h/0"),
        ("https://github.com/acme/x", "https://github.com/acme/x"),
        ("not a url", "not a url"),
    ],
)
def test_without_password(value: str, expected: str) -> None:
    assert without_password(value) == expected


def test_plain_hides_nested_secrets() -> None:
    assert plain({"a": [SecretStr("x")], "b": "redis://:pw@h"}) == {"a": ["set"], "b": "redis://:••••@h"}


async def test_dashboard_draws_charts_from_sessions_pushes_and_prs(client: httpx.AsyncClient, redis: Redis) -> None:
    store = SessionStore(redis)
    s = await seed(
        store,
        source="slack",
        cost_usd=1.5,
        title="costly one",
        events=[
            RunStarted(run=1, worker="w"),
            BranchPushed(branch="b", commit="c" * 40, remote="/r"),
            RunFinished(outcome="finished", summary="done"),
        ],
    )
    await seed(store, source="web", cost_usd=0.25)
    record = PullRequestRecord(
        key="acme/calc#7",
        repo="acme/calc",
        number=7,
        url="https://github.com/acme/calc/pull/7",
        session_id=s.id,
        source="slack",
        requested_by="ana",
        opened_at=s.created_at + 5,
    )
    assert await PullRequestStore(redis).opened(record)
    html = (await client.get("/dashboard")).text
    stats = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)", html))
    assert (stats["Sessions"], stats["Cost"], stats["Branches pushed"], stats["PRs opened"]) == ("2", "$1.75", "1", "1")
    assert html.count("<svg viewBox") == 3  # sessions by source, pushes and PRs, cost per day
    assert 'class="series-slack"' in html and 'class="series-web"' in html
    assert f'<a href="/sessions/{s.id}">costly one</a>' in html  # most expensive, and slowest
    groups = html[html.index('id="h-pr-groups"') :]
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td><td>(\d+)</td><td>([^<]+)</td>', groups)
    assert rows == [("acme/calc", "1", "0", "0%"), ("claude-sonnet-4-6", "1", "0", "0%")]  # by repo, by model
    assert (await client.get("/dashboard?days=7")).status_code == 200
    assert (await client.get("/dashboard?days=0")).status_code == 400


async def test_dashboard_digests_are_kept_and_caught_up(redis: Redis) -> None:
    store = SessionStore(redis)
    s = await seed(store, events=[RunStarted(run=1, worker="w")])
    first = (await facts_for(redis, [s.id]))[s.id]
    assert first.run_started_at is not None and first.active_s == 0
    await store.append(s.id, RunFinished(outcome="finished", summary=""))
    again = (await facts_for(redis, [s.id]))[s.id]
    assert again.run_started_at is None and again.active_s > 0
    assert again.cursor == (await store.events(s.id))[-1].id
    assert (await facts_for(redis, [s.id]))[s.id] == again  # nothing new: nothing changes


async def test_settings_lists_integrations_and_repos(client: httpx.AsyncClient, redis: Redis) -> None:
    await seed(SessionStore(redis), repo="/srv/calc.git", source="slack")
    html = (await client.get("/settings")).text
    assert "<strong>Sign-in with GitHub</strong>: not configured" in html
    assert '<a href="/settings/repo?repo=%2Fsrv%2Fcalc.git">view</a>' in html
    assert "slack (1)" in html


async def test_repo_page_shows_the_repos_own_config_from_the_mirror(
    client: httpx.AsyncClient, settings: Settings, redis: Redis, remote: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    sh("git", "clone", "-q", str(remote), str(work))
    (work / ".nightshift").mkdir()
    (work / ".nightshift" / "setup.sh").write_text("pip install -e .  # <b>not html</b>\n")
    (work / "AGENTS.md").write_text("Run pytest before finishing.\n")
    sh("git", "add", "-A", cwd=work)
    sh("git", "commit", "-q", "-m", "config", cwd=work)
    sh("git", "push", "-q", "origin", "main", cwd=work)
    repo = str(remote)
    page = await client.get("/settings/repo", params={"repo": repo})
    assert "Not fetched yet" in page.text
    await Mirrors(settings.data_dir / "mirrors").refresh(repo)
    page = await client.get("/settings/repo", params={"repo": repo})
    assert "<code>.nightshift/setup.sh</code>" in page.text and "&lt;b&gt;not html&lt;/b&gt;" in page.text
    assert "Run pytest before finishing." in page.text
    assert f"Model</th><td><code>{settings.model}</code>" in page.text


async def test_artifacts_are_served_only_by_the_names_the_log_lists(
    client: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    store = SessionStore(redis)
    s = await seed(store)
    root = settings.data_dir / "artifacts" / s.id
    root.mkdir(parents=True)
    (root / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\nfake-but-bytes")
    (root / "page.html").write_text("<script>alert(1)</script>")
    (root / "unlisted.png").write_bytes(b"x")
    for name, mime in [("shot.png", "image/png"), ("page.html", "text/html")]:
        path = f"{s.id}/{name}"
        await store.append(s.id, ArtifactSaved(name=name, path=path, mime_type=mime, size_bytes=10, description="d"))
    r = await client.get(f"/sessions/{s.id}/artifacts/shot.png")
    assert (r.status_code, r.headers["content-type"]) == (200, "image/png")
    r = await client.get(f"/sessions/{s.id}/artifacts/page.html")
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment")
    assert (await client.get(f"/sessions/{s.id}/artifacts/unlisted.png")).status_code == 404
    html = (await client.get(f"/sessions/{s.id}")).text
    assert f'<img src="/sessions/{s.id}/artifacts/shot.png" alt="d"' in html
    assert f'<img src="/sessions/{s.id}/artifacts/page.html"' not in html
