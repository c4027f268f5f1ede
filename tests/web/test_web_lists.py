"""The sessions list: newest first, filters by repo, source, status and person, pagination by created_at, and
the bound on how much one page may scan. Checked against a brute-force answer over the same sessions."""

import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from web_helpers import TOKEN, seed, sign_in

from control_plane.config import Settings
from control_plane.models import Session
from control_plane.store import SessionStore
from control_plane.web.app import create_web_app
from control_plane.web.config import web_config
from control_plane.web.listing import SessionFilter, find_sessions

REPOS = ["/srv/a.git", "/srv/b.git", "https://bot:tok3n-secret@github.com/acme/c.git"]
SOURCES = ["cli", "web", "slack", "github"]
PEOPLE = ["ana", "bo", "cy"]
STATUSES = ["finished", "failed", "running"]


@pytest.fixture
async def fleet(redis: Redis) -> list[Session]:
    """120 sessions, one a second, with every facet varying at a different rate; newest first."""
    store = SessionStore(redis)
    made = [
        await seed(
            store,
            repo=REPOS[i % 3],
            source=SOURCES[i % 4],  # type: ignore[arg-type]
            by=PEOPLE[i % 3 if i % 7 else 2],
            status=STATUSES[i % 5 % 3],  # type: ignore[arg-type]
            created_at=1_700_000_000 + i,
            title=f"task {i}",
        )
        for i in range(120)
    ]
    return sorted(made, key=lambda s: -s.created_at)


async def all_pages(redis: Redis, query: SessionFilter, *, limit: int, scan_limit: int) -> tuple[list[str], int]:
    """Every page, following the cursor like the "Older sessions" link; returns the ids and the number of pages."""
    ids: list[str] = []
    before, pages = None, 0
    while True:
        page = await find_sessions(redis, query, before=before, limit=limit, scan_limit=scan_limit)
        ids += [s.id for s in page.sessions]
        pages += 1
        assert len(page.sessions) <= limit
        if page.next_before is None:
            return ids, pages
        before = page.next_before


def brute_force(sessions: list[Session], query: SessionFilter) -> list[str]:
    return [s.id for s in sessions if query.matches(s)]


@pytest.mark.parametrize(
    "query",
    [
        SessionFilter(),
        SessionFilter(repo=REPOS[0]),
        SessionFilter(repo=REPOS[2], source="cli"),
        SessionFilter(source="slack", person="bo"),
        SessionFilter(status="running"),
        SessionFilter(status="failed", person="cy"),
        SessionFilter(repo=REPOS[1], source="web", status="finished", person="ana"),
        SessionFilter(person="nobody"),
    ],
)
@pytest.mark.parametrize(("limit", "scan_limit"), [(50, 2000), (7, 2000), (10, 15)])
async def test_pages_hold_exactly_the_matching_sessions_newest_first(
    redis: Redis, fleet: list[Session], query: SessionFilter, limit: int, scan_limit: int
) -> None:
    ids, _ = await all_pages(redis, query, limit=limit, scan_limit=scan_limit)
    assert ids == brute_force(fleet, query)


async def test_unfiltered_pages_are_full_until_the_last(redis: Redis, fleet: list[Session]) -> None:
    sizes = []
    before = None
    while True:
        page = await find_sessions(redis, SessionFilter(), before=before, limit=50, scan_limit=2000)
        sizes.append(len(page.sessions))
        if page.next_before is None:
            break
        before = page.next_before
    assert sizes == [50, 50, 20]


async def test_a_facet_filter_reads_its_index_not_every_session(redis: Redis, fleet: list[Session]) -> None:
    store = SessionStore(redis)
    rare = [await seed(store, by="dee", created_at=1_600_000_000 + i) for i in range(3)]
    # Scanning at most 5 records could not reach these three among 123 if the scan walked every session.
    page = await find_sessions(redis, SessionFilter(person="dee"), before=None, limit=50, scan_limit=5)
    assert [s.id for s in page.sessions] == [s.id for s in reversed(rare)]
    assert (page.next_before, page.scan_stopped) == (None, False)


async def test_a_status_filter_stops_at_the_scan_limit_and_says_so(redis: Redis, fleet: list[Session]) -> None:
    page = await find_sessions(redis, SessionFilter(status="running"), before=None, limit=50, scan_limit=10)
    assert page.scan_stopped and page.next_before is not None
    assert all(s.status == "running" for s in page.sessions)
    assert len(page.sessions) < 10


@pytest.fixture
async def client(redis: Redis, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.model_validate({"data_dir": tmp_path, "api_token": TOKEN})
    app = create_web_app(SessionStore(redis), web_config(settings, TOKEN), settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nightshift.test") as c:
        await sign_in(c)
        yield c


def ids_on(html: str) -> list[str]:
    return re.findall(r'<a href="/sessions/([0-9a-f]{12})">', html)


async def test_the_list_page_follows_its_older_link_through_every_session(
    client: httpx.AsyncClient, fleet: list[Session]
) -> None:
    seen: list[str] = []
    url = "/sessions?source=slack&person=bo"
    while url:
        html = (await client.get(url)).text
        seen += ids_on(html)
        older = re.search(r'<a rel="next" href="([^"]+)">', html)
        url = unescape(older.group(1)) if older else ""
        assert "source=slack" in url or not url  # the filters stay on the link
    assert seen == brute_force(fleet, SessionFilter(source="slack", person="bo"))
    assert seen


async def test_the_repo_filter_works_by_label_and_never_shows_credentials(
    client: httpx.AsyncClient, fleet: list[Session]
) -> None:
    html = (await client.get("/sessions")).text
    assert "tok3n-secret" not in html
    assert '<option value="https://github.com/acme/c.git">' in html
    page = (await client.get("/sessions", params={"repo": "https://github.com/acme/c.git"})).text
    assert ids_on(page) == brute_force(fleet, SessionFilter(repo=REPOS[2]))[:50]
    assert "tok3n-secret" not in page


async def test_an_unknown_filter_value_is_a_400(client: httpx.AsyncClient) -> None:
    r = await client.get("/sessions", params={"source": "carrier-pigeon"})
    assert r.status_code == 400


async def test_an_empty_list_says_so(client: httpx.AsyncClient) -> None:
    assert "No sessions match these filters." in (await client.get("/sessions")).text
