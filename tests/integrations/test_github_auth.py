"""GitHub credentials: installation tokens per repository (several installations at once) replaced before they
expire, the personal-token fallback, and git on the control plane's side authenticating without the token ever
being written down (not in a URL, an argument or the mirror's config)."""

import asyncio
import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from github_world import INSTALLATION, REPO, build_world, push_branch
from pydantic import SecretStr
from redis.asyncio import Redis

from control_plane.errors import GitError, RepoUnreachable
from control_plane.git import Mirrors, check_repo
from integrations.github.api import GitHubApi
from integrations.github.auth import GitHubAuth
from integrations.github.config import GitHubConfig, web_url_of
from integrations.github.errors import NotInstalled
from integrations.testing.github_standin import GitHubStandIn


@pytest.fixture
def gh(tmp_path: Path, remote: Path) -> Iterator[GitHubStandIn]:
    with GitHubStandIn(tmp_path / "github", token_lifetime_s=3600) as standin:
        build_world(standin, remote)
        standin.add_repo("globex/api", remote)
        standin.install("globex", ["globex/api"], installation_id=INSTALLATION + 1)
        standin.add_repo("initech/tps", remote)  # the App is not installed there
        yield standin


def app_config(gh: GitHubStandIn, **overrides: object) -> GitHubConfig:
    values: dict[str, object] = {
        "api_url": gh.base_url,
        "web_url": web_url_of(gh.base_url),
        "app_id": gh.app_id,
        "private_key": SecretStr(gh.private_key_pem),
        "write_interval_s": 0.0,
        **overrides,
    }
    return GitHubConfig.model_validate(values)


def token_in(env: dict[str, str]) -> str:
    assert env["GIT_CONFIG_COUNT"] == "1" and env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    scheme, _, encoded = env["GIT_CONFIG_VALUE_0"].removeprefix("AUTHORIZATION: ").partition(" ")
    assert scheme == "basic"
    user, _, token = base64.b64decode(encoded).decode().partition(":")
    assert user == "x-access-token"
    return token


@pytest.mark.parametrize(
    ("api_url", "web_url"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_web_url_follows_the_api_url(api_url: str, web_url: str) -> None:
    assert web_url_of(api_url) == web_url


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/acme/calc.git", "acme/calc"),
        ("https://github.com/acme/calc", "acme/calc"),
        ("https://github.com/acme/calc/", "acme/calc"),
        ("https://gitlab.com/acme/calc.git", None),
        ("git@github.com:acme/calc.git", None),
        ("https://github.com/acme", None),
        ("https://github.com/acme/calc/tree/main", None),
        ("/srv/git/calc.git", None),
    ],
)
def test_only_our_hosts_repositories_get_credentials(url: str, repo: str | None) -> None:
    auth = GitHubAuth(GitHubConfig(token=SecretStr("ghp_" + "x" * 36)))
    assert auth.repo_of(url) == repo


async def test_each_repository_gets_its_own_installations_token(gh: GitHubStandIn) -> None:
    auth = GitHubAuth(app_config(gh))
    acme = token_in(await auth.env_for(f"{gh.base_url}/{REPO}.git"))
    globex = token_in(await auth.env_for(f"{gh.base_url}/globex/api.git"))
    assert acme != globex and {acme, globex} <= set(gh.issued_tokens)
    assert token_in(await auth.env_for(f"{gh.base_url}/{REPO}.git")) == acme  # reused while fresh
    assert await auth.env_for("https://elsewhere.example/acme/calc.git") == {}
    with pytest.raises(NotInstalled):
        await auth.env_for(f"{gh.base_url}/initech/tps.git")
    await check_repo(f"{gh.base_url}/globex/api.git", "main", env=await auth.env_for(f"{gh.base_url}/globex/api.git"))
    with pytest.raises(RepoUnreachable):  # acme's token does not open globex's repository
        await check_repo(f"{gh.base_url}/globex/api.git", None, env=await auth.env_for(f"{gh.base_url}/{REPO}.git"))
    auth.close()


async def test_installation_tokens_are_replaced_before_they_expire(tmp_path: Path, remote: Path) -> None:
    with GitHubStandIn(tmp_path / "github", token_lifetime_s=3) as gh:
        build_world(gh, remote)
        auth = GitHubAuth(app_config(gh, token_refresh_margin_s=2))
        first = auth.token(INSTALLATION)
        assert auth.token(INSTALLATION) == first  # 3 s left, margin 2 s: still good
        client = auth.client(INSTALLATION)
        assert client.get_repo(REPO).default_branch == "main"
        await asyncio.sleep(1.2)  # now under the margin: the next use mints a new one, before GitHub refuses the old
        assert client.get_repo(REPO).get_collaborator_permission("alice") == "write"
        second = auth.token(INSTALLATION)
        assert second != first and gh.issued_tokens == [first, second]
        auth.close()


async def test_a_personal_token_works_for_everything_when_no_app_is_configured(gh: GitHubStandIn) -> None:
    gh.grant(REPO, "ops-bot", "write")
    pat = gh.personal_token("ops-bot")
    auth = GitHubAuth(GitHubConfig(api_url=gh.base_url, web_url=gh.base_url, token=SecretStr(pat), write_interval_s=0))
    assert not auth.is_app and auth.installation_for(REPO, known=INSTALLATION) is None
    assert token_in(await auth.env_for(f"{gh.base_url}/{REPO}.git")) == pat
    assert auth.bot_login() == "ops-bot"
    assert auth.client(None).get_repo(REPO).get_collaborator_permission("alice") == "write"
    auth.close()


async def test_mirrors_fetch_and_push_with_the_token_and_never_write_it_down(gh: GitHubStandIn, tmp_path: Path) -> None:
    auth = GitHubAuth(app_config(gh))
    url = f"{gh.base_url}/{REPO}.git"
    push_branch(gh, REPO, "feature", {"NOTES.md": "n\n"})
    mirrors = Mirrors(tmp_path / "mirrors", credentials=auth)
    mirror = await mirrors.refresh(url, refs=["refs/heads/feature"])
    commit = await mirrors.commit_of(mirror, "refs/heads/feature")
    assert commit is not None
    await mirrors.push(mirror, url, "refs/heads/feature", "nightshift/copy")
    assert (
        "refs/heads/nightshift/copy"
        in subprocess.run(
            ["git", "--git-dir", str(gh.git_dir(REPO)), "show-ref"], capture_output=True, text=True
        ).stdout
    )
    written = "".join(
        p.read_text(errors="replace") for p in mirror.rglob("*") if p.is_file() and p.stat().st_size < 1e6
    )
    for token in gh.issued_tokens:
        assert token not in written and base64.b64encode(f"x-access-token:{token}".encode()).decode() not in written
    assert [r.actor for r in gh.git_requests] == ["nightshift[bot]"] * len(gh.git_requests)
    without = Mirrors(tmp_path / "plain")
    with pytest.raises(GitError, match=r"could not read Username"):  # no credentials: git gets a 401 and gives up
        await without.refresh(url)
    auth.close()


def test_settings_from_the_environment_make_the_config(tmp_path: Path, gh: GitHubStandIn) -> None:
    from control_plane.config import Settings
    from harness.errors import ConfigError

    key = tmp_path / "app.pem"
    key.write_text(gh.private_key_pem)
    env = {
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "d"),
        "GITHUB_APP_ID": str(gh.app_id),
        "GITHUB_PRIVATE_KEY_PATH": str(key),
        "GITHUB_WEBHOOK_SECRET": "whsec-0123456789",
        "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
        "NIGHTSHIFT_GITHUB_FORK_POLICY": "branch",
        "NIGHTSHIFT_GITHUB_DRAFT_PRS": "false",
    }
    settings = Settings.load(env)
    config = GitHubConfig.from_settings(settings)
    assert config is not None and config.private_key is not None
    assert (config.app_id, config.api_url, config.web_url) == (
        gh.app_id,
        env["GITHUB_API_URL"].rstrip("/"),
        "https://ghe.example.com",
    )
    assert (config.fork_policy, config.draft_prs) == ("branch", False)
    assert gh.private_key_pem in settings.secrets() and "whsec-0123456789" in settings.secrets()  # redacted
    assert GitHubConfig.from_settings(Settings.load({"NIGHTSHIFT_DATA_DIR": str(tmp_path)})) is None  # GitHub off
    for half in (
        {"GITHUB_APP_ID": "1"},
        {"GITHUB_PRIVATE_KEY": gh.private_key_pem},
        {"GITHUB_WEBHOOK_SECRET": "s" * 10},
    ):
        with pytest.raises(ConfigError):
            GitHubConfig.from_settings(Settings.load({"NIGHTSHIFT_DATA_DIR": str(tmp_path), **half}))
    pat_only = GitHubConfig.from_settings(
        Settings.load({"NIGHTSHIFT_DATA_DIR": str(tmp_path), "GITHUB_TOKEN": "ghp_x"})
    )
    assert pat_only is not None and pat_only.app_id is None and pat_only.web_url == "https://github.com"


async def test_a_reinstalled_app_gets_fresh_credentials_from_the_event_in_every_process(
    gh: GitHubStandIn, redis: Redis
) -> None:
    """The event is handled by one process (`serving`); the worker process (`working`) that pushes forgets too."""
    serving, working = GitHubAuth(app_config(gh), redis), GitHubAuth(app_config(gh), redis)
    url = f"{gh.base_url}/{REPO}.git"
    before = token_in(await working.env_for(url))
    gh.uninstall(INSTALLATION)
    reinstalled = gh.install("acme", [REPO])
    await serving.announce_change(INSTALLATION, [REPO], gone=True)  # what the `installation` deleted event does
    after = token_in(await working.env_for(url))
    assert after != before and gh.token_installation(after) == reinstalled
    await check_repo(url, "main", env=await working.env_for(url))  # git works with it
    serving.close()
    working.close()


async def test_a_token_endpoint_404_looks_the_installation_up_again_once(gh: GitHubStandIn) -> None:
    """No event reached this process (or the cached token expired): the old installation's 404 is the signal."""
    auth = GitHubAuth(app_config(gh, token_refresh_margin_s=3600))  # every token is due: the endpoint is asked
    url = f"{gh.base_url}/{REPO}.git"
    token_in(await auth.env_for(url))
    gh.uninstall(INSTALLATION)
    reinstalled = gh.install("acme", [REPO])
    token = token_in(await auth.env_for(url))
    assert gh.token_installation(token) == reinstalled
    # A stored thread still naming the old installation reaches the new one too.
    api = GitHubApi(auth)
    assert await api.permission(REPO, "alice", INSTALLATION) == "write"
    gh.uninstall(reinstalled)
    with pytest.raises(NotInstalled):
        await auth.env_for(url)
    auth.close()
