"""`nightshift doctor` against working and broken setups: real redis-servers, the Anthropic, GitHub and Slack
stand-ins behind the real clients, a real local sandbox. Each broken part must say what a user would read."""

import asyncio
import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import free_port
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from control_plane.cli import main
from control_plane.config import Settings, env_vars
from control_plane.doctor import Finding, Report, run_checks
from control_plane.doctor_checks import check_bubblewrap, durability
from harness.testing.anthropic_standin import AnthropicStandIn
from integrations.github.doctor import check_github
from integrations.testing.github_standin import GitHubStandIn
from integrations.testing.slack_standin import SlackStandIn

KEY = "sk-ant-doctor-" + "4d2b" * 6


@pytest.fixture
def persistent_redis(redis_server: Callable[..., str]) -> str:
    return redis_server("--appendonly", "yes", "--save", "")


def doctor(tmp_path: Path, *args: str, **env: str) -> tuple[int, list[str]]:
    """Run the command with exactly these settings in the environment (anything set outside the test removed)."""
    ours = [var for name in Settings.model_fields for var in env_vars(name)]
    environ: dict[str, str | None] = {name: None for name in ours if name in os.environ}
    environ |= {"NIGHTSHIFT_DATA_DIR": str(tmp_path / "data"), **env}
    result = CliRunner().invoke(main, ["doctor", *args], env=environ)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output.splitlines()


def finding(lines: list[str], part: str) -> list[str]:
    """The report's lines about one part: its status line, and the fix line under it if there is one."""
    at = next(i for i, line in enumerate(lines) if line[6:].startswith(part + " "))
    return lines[at : at + 2] if at + 1 < len(lines) and "fix: " in lines[at + 1] else lines[at : at + 1]


def test_a_working_setup_is_all_ok(tmp_path: Path, persistent_redis: str) -> None:
    with (
        AnthropicStandIn(expected_api_key=KEY) as model,
        GitHubStandIn(tmp_path / "gh") as gh,
        SlackStandIn(token="xoxb-doctor") as slack,
    ):
        gh.install("acme", ["acme/app"])
        gh.install("globex", ["globex/site"])
        code, lines = doctor(
            tmp_path,
            REDIS_URL=persistent_redis,
            ANTHROPIC_API_KEY=KEY,
            ANTHROPIC_BASE_URL=model.base_url,
            GITHUB_APP_ID=str(gh.app_id),
            GITHUB_PRIVATE_KEY=gh.private_key_pem,
            GITHUB_API_URL=gh.base_url,
            GITHUB_WEBHOOK_SECRET="whsec-doctor-1234",
            SLACK_BOT_TOKEN="xoxb-doctor",
            SLACK_SIGNING_SECRET="signing-doctor-1234",
            NIGHTSHIFT_SLACK_API_URL=slack.base_url,
            NIGHTSHIFT_PUBLIC_URL="https://nightshift.example.com",
            SENTRY_CLIENT_SECRET="sentry-doctor-1234",
            NIGHTSHIFT_SENTRY_PROJECT_REPOS='{"backend": "acme/app"}',
        )
    assert lines == [
        "OK    redis       reachable; append-only file on",
        "OK    redis-auth  a client without a password is refused",
        "OK    model       API key accepted; claude-sonnet-4-6 available",
        "OK    github      App nightshift (id 4242), installed on acme, globex",
        "OK    slack       bot nightshift in Nightshift Test, every scope granted; events at "
        "https://nightshift.example.com/slack/events",
        "OK    sentry      client secret set; 1 project(s) mapped to a repo",
        "SKIP  modal       not used (NIGHTSHIFT_SANDBOX is local)",
        f"OK    bubblewrap  {shutil.which('bwrap')} creates namespaces",
        "OK    sandbox     a local sandbox started and ran `true`",
    ]
    assert code == 0


def test_json_output_carries_the_same_findings(tmp_path: Path, persistent_redis: str) -> None:
    code, lines = doctor(tmp_path, "--json", REDIS_URL=persistent_redis)
    report = Report.model_validate_json("\n".join(lines))
    assert report.findings[0] == Finding(part="redis", status="ok", message="reachable; append-only file on")
    assert [f.part for f in report.findings if f.status == "fail"] == ["model"]
    assert code == 1


def test_a_wrong_redis_url_fails_with_the_fix(tmp_path: Path) -> None:
    port = free_port()
    code, lines = doctor(tmp_path, REDIS_URL=f"redis://:hunter2-secret@127.0.0.1:{port}/0")
    assert lines[0].startswith(f"FAIL  redis       cannot reach Redis at redis://:***@127.0.0.1:{port}/0: ")
    assert "hunter2-secret" not in "\n".join(lines)
    assert lines[1] == (
        "                  fix: check REDIS_URL (redis://[:password@]host:port/db, rediss:// for TLS) and the network "
        "path"
    )
    assert code == 1


ACL_USER = ("--user", "nightshift", "on", ">s3cret-pw", "~*", "&*", "+@all")
OPEN_REDIS_FIX = (
    "                  fix: require a password: an ACL user (`ACL SETUSER nightshift on >PASSWORD ~* &* +@all` and "
    "`ACL SETUSER default off`) or `requirepass PASSWORD`, put it in REDIS_URL "
    "(redis://nightshift:PASSWORD@host:6379/0), and use rediss:// (TLS) when the connection leaves the machine; see "
    "docs/deploy.md. If only this control plane can reach that Redis, say so with --insecure-redis or "
    "NIGHTSHIFT_INSECURE_REDIS=true"
)


def test_a_redis_that_answers_without_a_password_fails_with_the_fix(
    tmp_path: Path, redis_server: Callable[..., str]
) -> None:
    url = redis_server("--appendonly", "yes", password=None)
    code, lines = doctor(tmp_path, REDIS_URL=url)
    assert finding(lines, "redis-auth") == [
        "FAIL  redis-auth  answers clients without a password: anyone who reaches it can rewrite sessions (serve "
        "refuses it)",
        OPEN_REDIS_FIX,
    ]
    assert code == 1


def test_a_password_in_the_url_is_not_enough_when_the_server_lets_anyone_in(
    tmp_path: Path, redis_server: Callable[..., str]
) -> None:
    """An ACL user with a password, but the default user still open: a client without credentials gets in."""
    url = redis_server("--appendonly", "yes", *ACL_USER, password=None)
    code, lines = doctor(tmp_path, REDIS_URL=url.replace("redis://", "redis://nightshift:s3cret-pw@"))
    assert finding(lines, "redis")[0] == "OK    redis       reachable; append-only file on"  # the URL's user works
    assert finding(lines, "redis-auth")[0].startswith("FAIL  redis-auth  answers clients without a password")
    assert code == 1


def test_a_redis_declared_private_is_a_warning(tmp_path: Path, redis_server: Callable[..., str]) -> None:
    url = redis_server("--appendonly", "yes", password=None)
    for args, env in ((("--insecure-redis",), {}), ((), {"NIGHTSHIFT_INSECURE_REDIS": "true"})):
        _, lines = doctor(tmp_path, *args, REDIS_URL=url, **env)
        assert finding(lines, "redis-auth") == [
            "WARN  redis-auth  answers clients without a password; declared private (--insecure-redis)",
            OPEN_REDIS_FIX,
        ]


def test_an_acl_user_with_a_password_and_the_default_user_off_is_ok(
    tmp_path: Path, redis_server: Callable[..., str]
) -> None:
    url = redis_server("--appendonly", "yes", *ACL_USER, "--user", "default", "off", password=None)
    _, lines = doctor(tmp_path, REDIS_URL=url.replace("redis://", "redis://nightshift:s3cret-pw@"))
    assert finding(lines, "redis-auth") == ["OK    redis-auth  a client without a password is refused"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--appendonly", "no", "--save", ""),
            "FAIL  redis       reachable but not persistent: a restart loses every session",
        ),
        (
            ("--appendonly", "no", "--save", "900 1"),
            "WARN  redis       reachable; only RDB snapshots (save '900 1'): a crash loses the writes since the "
            "last one",
        ),
    ],
)
def test_a_redis_without_an_append_only_file_is_flagged(
    tmp_path: Path, redis_server: Callable[..., str], args: tuple[str, ...], expected: str
) -> None:
    url = redis_server(*args)
    code, lines = doctor(tmp_path, REDIS_URL=url)
    assert finding(lines, "redis") == [
        expected,
        "                  fix: turn on the append-only file (`appendonly yes`; on a managed service: its "
        "persistence/AOF option)",
    ]
    assert code == 1


@pytest.mark.parametrize(
    ("appendonly", "save", "eviction", "status"),
    [
        ("yes", "", "noeviction", "ok"),
        ("yes", "3600 1", "noeviction", "ok"),
        ("no", "3600 1", "noeviction", "warn"),
        ("no", "", "noeviction", "fail"),
        (None, None, "noeviction", "warn"),  # CONFIG refused, INFO says the AOF is off
        ("yes", "", "allkeys-lru", "warn"),
        ("no", "", "allkeys-lru", "fail"),
    ],
)
def test_durability_decision(appendonly: str | None, save: str | None, eviction: str, status: str) -> None:
    assert durability(appendonly, save, eviction).status == status


def test_an_evicting_redis_is_a_warning(tmp_path: Path, redis_server: Callable[..., str]) -> None:
    url = redis_server("--appendonly", "yes", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    _, lines = doctor(tmp_path, REDIS_URL=url)
    assert finding(lines, "redis") == [
        "WARN  redis       reachable; append-only file on; maxmemory-policy allkeys-lru drops keys (sessions, jobs) "
        "when memory runs out",
        "                  fix: set maxmemory-policy noeviction",
    ]


async def test_a_check_that_hangs_fails_its_part() -> None:
    async def hangs() -> Finding:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def fine() -> Finding:
        return Finding(part="sentry", status="skip", message="not configured")

    report = await run_checks([("modal", hangs), ("sentry", fine)], timeout_s=0.05)
    assert [(f.part, f.status, f.message) for f in report.findings] == [
        ("modal", "fail", "no answer within 0.05 s"),
        ("sentry", "skip", "not configured"),
    ]
    assert not report.ok


def test_a_bad_model_key_fails(tmp_path: Path, persistent_redis: str) -> None:
    with AnthropicStandIn(expected_api_key=KEY) as model:
        env = {"REDIS_URL": persistent_redis, "ANTHROPIC_BASE_URL": model.base_url}
        code, lines = doctor(tmp_path, ANTHROPIC_API_KEY="sk-ant-wrong-0000", **env)
        _, unknown = doctor(tmp_path, ANTHROPIC_API_KEY=KEY, NIGHTSHIFT_MODEL="sonnet-9", **env)
    assert finding(lines, "model") == [
        "FAIL  model       the model API refused ANTHROPIC_API_KEY (401)",
        "                  fix: set ANTHROPIC_API_KEY to a valid key (console.anthropic.com > API keys)",
    ]
    assert finding(unknown, "model") == [
        "FAIL  model       model 'sonnet-9' is not available to this key",
        "                  fix: set NIGHTSHIFT_MODEL to a model the key can use, e.g. claude-sonnet-4-6",
    ]
    assert code == 1


def test_slack_missing_scopes_and_a_bad_token(tmp_path: Path, persistent_redis: str) -> None:
    granted = ["app_mentions:read", "channels:history", "groups:history", "mpim:history"]
    with SlackStandIn(token="xoxb-doctor", scopes=granted) as slack:
        env = {"REDIS_URL": persistent_redis, "NIGHTSHIFT_SLACK_API_URL": slack.base_url}
        env |= {"SLACK_SIGNING_SECRET": "signing-doctor-1234"}
        code, lines = doctor(tmp_path, SLACK_BOT_TOKEN="xoxb-doctor", **env)
        _, bad = doctor(tmp_path, SLACK_BOT_TOKEN="xoxb-revoked", **env)
    assert finding(lines, "slack") == [
        "FAIL  slack       bot nightshift in Nightshift Test lacks scopes: im:history, chat:write",
        "                  fix: add them under OAuth & Permissions (or paste `nightshift slack manifest`), then "
        "reinstall the app",
    ]
    assert "FAIL  slack       Slack refused SLACK_BOT_TOKEN: invalid_auth" in bad
    gone = f"http://127.0.0.1:{free_port()}/api/"
    _, unreachable = doctor(tmp_path, SLACK_BOT_TOKEN="xoxb-doctor", **(env | {"NIGHTSHIFT_SLACK_API_URL": gone}))
    assert f"FAIL  slack       cannot reach Slack at {gone}: ClientConnectorError" in unreachable
    assert code == 1


def test_github_with_a_bad_app_key_or_no_installation(tmp_path: Path, persistent_redis: str) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with GitHubStandIn(tmp_path / "gh") as gh:
        env = {"REDIS_URL": persistent_redis, "GITHUB_APP_ID": str(gh.app_id), "GITHUB_API_URL": gh.base_url}
        env |= {"GITHUB_WEBHOOK_SECRET": "whsec-doctor-1234"}
        code, lines = doctor(tmp_path, GITHUB_PRIVATE_KEY=other_key.decode(), **env)
        _, nowhere = doctor(tmp_path, GITHUB_PRIVATE_KEY=gh.private_key_pem, **env)
    assert finding(lines, "github") == [
        "FAIL  github      GitHub refused the App's JWT (GITHUB_APP_ID and its private key): A JSON web token could "
        "not be decoded: Signature verification failed",
        "                  fix: check GITHUB_APP_ID, and that the private key is a current key of that App (App "
        "settings > Private keys)",
    ]
    assert "FAIL  github      App nightshift (id 4242) is installed nowhere" in nowhere
    assert code == 1


async def test_github_with_a_malformed_key_or_unreachable(tmp_path: Path) -> None:
    base = {"data_dir": tmp_path, "github_app_id": 4242, "github_webhook_secret": "whsec-doctor-1234"}
    malformed = await check_github(Settings.model_validate(base | {"github_private_key": "-----BEGIN nonsense"}))
    assert (malformed.status, malformed.message) == ("fail", "the App's private key is not a PEM private key")
    with GitHubStandIn(tmp_path / "gh") as gh:
        key = gh.private_key_pem
    gone = f"http://127.0.0.1:{free_port()}"
    unreachable = await check_github(
        Settings.model_validate(base | {"github_private_key": key, "github_api_url": gone})
    )
    assert (unreachable.status, unreachable.message) == ("fail", f"cannot reach GitHub at {gone}: ConnectionError")


def test_github_personal_token(tmp_path: Path, persistent_redis: str) -> None:
    with GitHubStandIn(tmp_path / "gh") as gh:
        token = gh.personal_token("ana")
        _, lines = doctor(tmp_path, REDIS_URL=persistent_redis, GITHUB_TOKEN=token, GITHUB_API_URL=gh.base_url)
    assert finding(lines, "github") == [
        "WARN  github      fine-grained token of ana; an App is the better choice for a team; GITHUB_WEBHOOK_SECRET "
        "is not set, so no webhooks are served",
        "                  fix: set GITHUB_WEBHOOK_SECRET to the App's (or repository webhook's) secret",
    ]


def test_invalid_configuration_is_one_failure(tmp_path: Path) -> None:
    code, lines = doctor(tmp_path, NIGHTSHIFT_SANDBOX="docker")
    assert lines[0].startswith("FAIL  config  invalid configuration: 1 validation error for Settings")
    assert code == 1


async def test_bubblewrap_missing_or_unable_to_make_namespaces(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    missing = await check_bubblewrap(settings, None)
    assert (missing.status, missing.message, missing.fix) == (
        "fail",
        "bwrap not found: local sandboxes would run commands as this user, unisolated (host files and network, its "
        "loopback included)",
        "apt-get install bubblewrap (or NIGHTSHIFT_SANDBOX=modal)",
    )
    # What bwrap prints where unprivileged user namespaces are off (a container without them, a locked-down kernel).
    broken = tmp_path / "bwrap"
    broken.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    refused = await check_bubblewrap(settings, str(broken))
    assert refused.message == "bwrap cannot create namespaces: bwrap: No permissions to creating new namespace"
    assert refused.status == "fail"
    modal = await check_bubblewrap(settings.model_copy(update={"sandbox": "modal"}), None)
    assert modal.status == "skip"


async def test_modal_without_a_token_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from control_plane.doctor_checks import check_modal

    monkeypatch.delenv("MODAL_TOKEN_ID", raising=False)
    settings = Settings(data_dir=tmp_path, sandbox="modal", anthropic_api_key=SecretStr(KEY))
    finding = await check_modal(settings)
    assert json.loads(finding.model_dump_json()) == {
        "part": "modal",
        "status": "fail",
        "message": "no Modal token: run `modal token new`, or export MODAL_TOKEN_ID and MODAL_TOKEN_SECRET",
        "fix": "",
    }
