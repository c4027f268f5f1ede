"""Bad input over HTTP: a few hundred hypothesis cases over every route of `nightshift serve` (see http_fuzz.py).
No answer may be a 5xx and no connection may drop; the full 10,000-case run is bench/fuzz_http.py."""

from collections.abc import Iterator

import pytest
from conftest import free_port
from http_fuzz import API_TOKEN, Case, FuzzWorld, Outcome, cases, fuzz_world, signature_headers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[FuzzWorld]:
    with fuzz_world(tmp_path_factory.mktemp("fuzz"), redis_url, free_port()) as w:
        yield w


def test_every_route_is_fuzzed(world: FuzzWorld) -> None:
    paths = {e.path for e in world.endpoints}
    expected = {"/api/sessions", "/webhooks/github", "/slack/events", "/webhooks/sentry", "/webhooks/generic/{name}"}
    assert expected | {"/login", "/sessions/{session_id}/messages"} <= paths


def test_fuzzed_requests_get_no_5xx(world: FuzzWorld) -> None:
    outcome = Outcome()

    # derandomize: the same 300 cases every run, so CI is stable; bench/fuzz_http.py explores new ones each run.
    @settings(max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one(data: st.DataObject) -> None:
        case: Case = data.draw(cases(world.endpoints, world.session_id, world.examples))
        world.send(case, outcome)

    one()
    assert outcome.failures == [], "\n".join(outcome.failures[:20])
    assert world.server.alive
    assert outcome.cases >= 300
    assert set(outcome.by_status) & {400, 401, 403, 404, 413, 422}  # the bad input really was refused


# Regression tests for what the fuzzing found (each was a 500).


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/api/sessions", b'{"repo": "\xff\xfe", "prompt": "x"}', None),  # FastAPI then echoes the raw bytes
        ("/api/repos/notes", b'{"text": [-Infinity, NaN]}', "application/json"),
        ("/api/repos/notes", b'{"text": ["\\udae1"]}', "application/json"),  # a lone surrogate
    ],
)
def test_input_the_error_cannot_echo_gets_422_not_500(
    world: FuzzWorld, path: str, body: bytes, content_type: str | None
) -> None:
    headers = {"Authorization": f"Bearer {API_TOKEN}", **({"Content-Type": content_type} if content_type else {})}
    r = world.anonymous.post(path, content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"null", 400),
        (b"[{}]", 400),
        (b'"text"', 400),
        (b'{"text": "\xff"}', 400),
        (b"payload=7", 400),
        (b'{"type": "event_callback", "authorizations": [[1]]}', 400),
    ],
)
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_slack_bodies_that_are_not_an_object_are_refused(
    world: FuzzWorld, body: bytes, status: int, content_type: str
) -> None:
    headers = {"Content-Type": content_type, **signature_headers("/slack/events", body, "right")}
    r = world.anonymous.post("/slack/events", content=body, headers=headers)
    assert r.status_code == status, r.text


@pytest.mark.parametrize("timestamp", ["0L", "", "1e9", "+12", "1_700_000_000"])
def test_a_slack_timestamp_that_is_not_a_number_is_refused(world: FuzzWorld, timestamp: str) -> None:
    body = b'{"type": "url_verification", "challenge": "c"}'
    headers = {**signature_headers("/slack/events", body, "right"), "X-Slack-Request-Timestamp": timestamp}
    r = world.anonymous.post("/slack/events", content=body, headers={k: v for k, v in headers.items() if v})
    assert r.status_code == 401, r.text


def test_a_signed_slack_challenge_still_works(world: FuzzWorld) -> None:
    body = b'{"type": "url_verification", "challenge": "c-123"}'
    headers = {"Content-Type": "application/json", **signature_headers("/slack/events", body, "right")}
    r = world.anonymous.post("/slack/events", content=body, headers=headers)
    assert (r.status_code, r.json()) == (200, {"challenge": "c-123"})


def test_the_stream_of_an_unknown_session_is_a_404_before_any_stream(world: FuzzWorld) -> None:
    r = world.anonymous.get("/api/sessions/nope/stream", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert r.status_code == 404, r.text
