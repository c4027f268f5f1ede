"""GitHub events → the code reviewer: which events ask for a review (a pure table), and end to end: signed deliveries
into the real FastAPI app and delivery consumer, real Redis, the real PyGithub client against the GitHub stand-in
(plus the reviewer's routes) and the scripted Anthropic stand-in as the review model.

The vendored examples have no `opened`, `synchronize` or `review_requested` payload; those share the `reopened`
example's shape (same `pull_request` object, `sender`, `repository`, `installation`), so they are built from it with
the action changed and `requested_reviewer` added as GitHub sends it."""

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from github_world import REPO, Json, build_world, deliver, issue_comment, pull_request, push_branch
from test_github_e2e import github_of, github_settings

from control_plane import keys
from control_plane.runtime import Runtime
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use
from integrations.github.models import Actor, CommentEvent, Delivery, PullRequestEvent, RepoRef
from integrations.github.routing import Plan, asks_for_review, plan
from integrations.github.webhooks import parse

sys.path.insert(0, str(Path(__file__).parents[1] / "reviewer"))
from _review_standin import ReviewingStandIn

BOT = "nightshift[bot]"
SWALLOWING = "def add(a, b):\n    try:\n        return a + b\n    except Exception:\n        pass\n"
_REPO = RepoRef(full_name=REPO, clone_url="c", html_url="h", default_branch="main")


def _pr(action: str, *, sender: str = "alice", author: str = "alice", requested: str | None = None) -> PullRequestEvent:
    return PullRequestEvent(
        action=action,  # type: ignore[arg-type]
        repo=_REPO,
        number=1,
        merged=False,
        at=0,
        actor=Actor(login=sender, id=1),
        author=author,
        head_sha="abc",
        draft=False,
        requested_reviewer=requested,
    )


def _comment(body: str, *, on_pr: bool = True) -> CommentEvent:
    return CommentEvent(
        via="issue_comment",
        repo=_REPO,
        number=1,
        on_pull_request=on_pr,
        title="t",
        comment_id=1,
        body=body,
        author=Actor(login="alice", id=2),
        url="u",
        at=0,
    )


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_pr("opened"), Plan(review="opened")),
        (_pr("ready_for_review"), Plan(review="ready_for_review")),
        (_pr("synchronize"), Plan(review="synchronize")),
        (_pr("review_requested", requested=BOT), Plan(review="review_requested")),
        (_pr("review_requested", requested="bob"), Plan(reason="a review was requested from someone else")),
        (_pr("review_requested"), Plan(reason="a review was requested from someone else")),  # a team was asked
        (_pr("closed"), Plan(record=True)),
        (_pr("reopened"), Plan(record=True)),
        # The bot's own PR: its opening and its new commits are new heads; nothing else the bot does reviews.
        (_pr("opened", sender=BOT, author=BOT), Plan(review="opened")),
        (_pr("synchronize", sender=BOT, author=BOT), Plan(review="synchronize")),
        (_pr("ready_for_review", sender=BOT, author=BOT), Plan(reason="caused by the bot")),
        (_pr("synchronize", sender=BOT), Plan(reason="caused by the bot")),  # the bot pushing to someone's PR
        (_pr("review_requested", sender=BOT, requested=BOT), Plan(reason="caused by the bot")),
        (_comment("@nightshift review"), Plan(review="mention", record=True)),
        (_comment("Looks odd.\n@Nightshift review!"), Plan(review="mention", record=True)),
        (_comment("@nightshift review the tests and fix them"), Plan(trigger=True, record=True)),
        (_comment("@nightshift review", on_pr=False), Plan(trigger=True)),  # an issue has nothing to review
        (_comment("> @nightshift review\nthanks"), Plan(record=True, reason="does not mention @nightshift")),
    ],
)
def test_plan_reviews(event: PullRequestEvent | CommentEvent, expected: Plan) -> None:
    assert plan(event, bot_login=BOT, mention="@nightshift") == expected


def test_review_command_ignores_code() -> None:
    assert not asks_for_review("run `@nightshift review` to get one", "@nightshift")
    assert asks_for_review("please\n  @nightshift review  \n", "@nightshift")


# --- end to end ------------------------------------------------------------------------------------------------------

NOTHING = Reply(tool_use("report_findings", {"findings": [], "summary": "Nothing to add."}))


@pytest.fixture
def model() -> Iterator[AnthropicStandIn]:
    finding = {"path": "calc.py", "line": 3, "severity": "warning", "message": "add() cannot fail here."}
    first = Reply(tool_use("report_findings", {"findings": [finding], "summary": "One risk."}))
    with AnthropicStandIn(Script([NOTHING] * 10), Script([first], key=f"[review:{REPO}#1@")) as standin:
        yield standin


@pytest.fixture
def gh(tmp_path: Path, remote: Path) -> Iterator[ReviewingStandIn]:
    with ReviewingStandIn(tmp_path / "github") as standin:
        build_world(standin, remote)
        yield standin


@pytest.fixture
async def rt(
    tmp_path: Path, redis_url: str, model: AnthropicStandIn, gh: ReviewingStandIn, redis: object
) -> AsyncIterator[Runtime]:
    async with Runtime.open(github_settings(tmp_path, redis_url, model, gh)) as runtime:
        yield runtime


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.api()), base_url="http://nightshift.test") as c:
        yield c


@asynccontextmanager
async def consumer_running(rt: Runtime) -> AsyncIterator[None]:
    """Only the delivery consumer: a review needs no worker, and a session started by mistake stays visible."""
    consumer = github_of(rt).consumer
    task = asyncio.create_task(consumer.run(block_ms=50))
    try:
        yield
    finally:
        consumer.stop()
        await task


async def drained(rt: Runtime) -> None:
    """Every queued delivery handled (acknowledged), so what the handler posts is all there is."""
    redis = rt.redis
    async with asyncio.timeout(30):
        while True:
            groups = await redis.xinfo_groups(keys.GITHUB_DELIVERIES)
            if groups and all(g["pending"] == 0 and g["lag"] == 0 for g in groups):
                return
            await asyncio.sleep(0.05)


def opened(gh: ReviewingStandIn, *, draft: bool = False) -> Json:
    push_branch(gh, REPO, "careful-add", {"calc.py": SWALLOWING})
    gh.open_pull(REPO, title="Careful add", head="careful-add", by="alice", draft=draft)
    return pull_request(gh, "reopened", 1, "alice") | {"action": "opened"}


async def test_opened_reviews_once_even_when_redelivered(
    rt: Runtime, client: httpx.AsyncClient, gh: ReviewingStandIn, model: AnthropicStandIn
) -> None:
    payload = opened(gh)
    async with consumer_running(rt):
        first = await deliver(client, "pull_request", payload, delivery="d-1")
        assert (first.status_code, first.json()) == (202, {"status": "queued"})
        await drained(rt)
        await deliver(client, "pull_request", payload, delivery="d-1")  # GitHub's "Redeliver": same id and body
        await deliver(client, "pull_request", payload, delivery="d-2")  # a replay under a new id
        await drained(rt)
    [review] = gh.review_list
    assert (review.user, review.commit_id) == (BOT, str(gh.pull_json(REPO, 1)["head"]["sha"]))  # type: ignore[index]
    comments = {c["line"]: str(c["body"]) for c in gh.review_comments(REPO, 1)}
    assert sorted(comments) == [3, 4]  # type: ignore[type-var]
    assert "add() cannot fail here." in comments[3]
    assert "`swallowed-exception`" in comments[4]
    assert len(model.requests) == 1


async def test_two_deliveries_for_one_head_post_one_review(rt: Runtime, gh: ReviewingStandIn) -> None:
    """Two processes handling deliveries for the same head at once (say opened, and a review request): the lock
    lets one through; the reviewer's own once-per-head check would come too late, before either has posted."""
    opened(gh)
    handler = github_of(rt).handler
    requested = pull_request(gh, "reopened", 1, "alice") | {"action": "review_requested"}
    requested["requested_reviewer"] = gh.user_json(BOT)
    deliveries = []
    for i, payload in enumerate([pull_request(gh, "reopened", 1, "alice") | {"action": "opened"}, requested]):
        event = parse("pull_request", json.dumps(payload).encode())
        assert event is not None
        deliveries.append(Delivery(id=f"x{i}", name="pull_request", received_at=0, event=event))
    await asyncio.gather(*(handler(d) for d in deliveries))
    assert len(gh.review_list) == 1


async def test_review_command_reviews_instead_of_starting_a_session(
    rt: Runtime, client: httpx.AsyncClient, gh: ReviewingStandIn
) -> None:
    opened(gh, draft=True)  # a draft: only an explicit ask reviews it
    asked = gh.comment(REPO, 1, "@nightshift review", by="alice")
    async with consumer_running(rt):
        assert (await deliver(client, "issue_comment", issue_comment(gh, 1, asked))).is_success
        await drained(rt)
    assert [r.user for r in gh.review_list] == [BOT]
    assert await rt.store.by_origin(f"github:{REPO}#1") is None, "no coding session"
    assert await rt.redis.zcard(keys.SESSIONS) == 0


async def test_a_draft_opened_is_not_reviewed(
    rt: Runtime, client: httpx.AsyncClient, gh: ReviewingStandIn, model: AnthropicStandIn
) -> None:
    payload = opened(gh, draft=True)
    async with consumer_running(rt):
        assert (await deliver(client, "pull_request", payload)).is_success
        await drained(rt)
    assert gh.review_list == [] and gh.statuses == [] and model.requests == []
