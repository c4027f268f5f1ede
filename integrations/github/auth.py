"""Who Nightshift is on GitHub: the App (an installation token per repository, minted from the App's key and
replaced before it expires; many installations and organisations at once), or a personal token for a quick start.

Every REST client and every git credential comes from here, and only the control plane uses them: git gets the
token as an HTTP header through GIT_CONFIG_* environment variables of the one command that needs it — never in a
URL, an argument, a config file, or a sandbox.
"""

import asyncio
import base64
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from github import Auth, Github, GithubException, GithubIntegration
from github.InstallationAuthorization import InstallationAuthorization
from redis.asyncio import Redis

from control_plane import keys
from integrations.github.config import GitHubConfig
from integrations.github.errors import GitHubApiError, InstallationGone, NotInstalled


def git_auth_env(token: str) -> dict[str, str]:
    """Environment that makes one git command send `token` (an installation token or a personal one)."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


class _InstallationToken(Auth.Auth):
    """PyGithub authentication that asks GitHubAuth for the installation's current token on every request."""

    def __init__(self, owner: "GitHubAuth", installation_id: int) -> None:
        self._owner, self._installation_id = owner, installation_id

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self._owner.token(self._installation_id)


class GitHubAuth:
    """Blocking calls (PyGithub is synchronous): callers run them in a thread."""

    def __init__(self, config: GitHubConfig, redis: Redis | None = None) -> None:
        self.config = config
        self._redis = redis
        """Where installation events are announced to every process (keys.GITHUB_INSTALLATIONS_EPOCH); None for
        one-shot tools."""
        self._epoch: str | None = None
        self._lock = threading.Lock()
        self._tokens: dict[int, InstallationAuthorization] = {}
        self._installations: dict[str, int] = {}
        """repo -> the installation covering it; forgotten on installation events and when its token endpoint 404s."""
        self._gone: set[int] = set()
        """Installations whose token endpoint answered 404: an id a webhook or a stored thread still names is looked
        up again instead."""
        self._clients: dict[int | None, Github] = {}
        self._integration: GithubIntegration | None = None
        if config.app_id is not None and config.private_key is not None:
            app = Auth.AppAuth(config.app_id, config.private_key.get_secret_value())
            self._integration = GithubIntegration(auth=app, base_url=config.api_url, **_pacing(config))
        elif config.token is None:
            raise ValueError("GitHubAuth needs an App (id and private key) or a personal token")

    @property
    def is_app(self) -> bool:
        return self._integration is not None

    def installation_for(self, repo: str, known: int | None = None) -> int | None:
        """The installation covering `repo` (owner/name); None with a personal token. `known` comes from a webhook."""
        if self._integration is None:
            return None
        with self._lock:
            if known is not None and known not in self._gone:
                return known
            if repo not in self._installations:
                owner, name = repo.split("/")
                try:
                    self._installations[repo] = self._integration.get_repo_installation(owner, name).id
                except GithubException as e:
                    if e.status == 404:
                        raise NotInstalled(repo) from e
                    raise GitHubApiError(e.status, api_message(e)) from e
            return self._installations[repo]

    def token(self, installation_id: int | None) -> str:
        """A token valid for at least token_refresh_margin_s more: the installation's, or the personal token."""
        if installation_id is None or self._integration is None:
            assert self.config.token is not None
            return self.config.token.get_secret_value()
        margin = timedelta(seconds=self.config.token_refresh_margin_s)
        with self._lock:
            current = self._tokens.get(installation_id)
            if current is None or current.expires_at - margin <= datetime.now(UTC):
                try:
                    current = self._integration.get_access_token(installation_id)
                except GithubException as e:
                    if e.status == 404:
                        self._forget(installation_id, [], gone=True)
                        raise InstallationGone(installation_id) from e
                    raise GitHubApiError(e.status, api_message(e)) from e
                self._tokens[installation_id] = current
            return current.token

    def forget(self, installation_id: int, repos: list[str], *, gone: bool = False) -> None:
        """Drop what is cached about an installation (its token, the repositories it covered) and about `repos`: an
        `installation` or `installation_repositories` event says it changed. `gone`: uninstalled or suspended."""
        with self._lock:
            self._forget(installation_id, repos, gone=gone)

    def _forget(self, installation_id: int, repos: list[str], *, gone: bool) -> None:
        self._tokens.pop(installation_id, None)
        stale = [r for r, i in self._installations.items() if i == installation_id or r in repos]
        for repo in stale:
            del self._installations[repo]
        if gone:
            self._gone.add(installation_id)
        else:
            self._gone.discard(installation_id)

    async def catch_up(self) -> None:
        """Forget every cached installation and token when another process handled an installation event since the
        last look: one Redis GET before each git command and REST call."""
        if self._redis is None:
            return
        epoch: str | None = await self._redis.get(keys.GITHUB_INSTALLATIONS_EPOCH)
        if epoch != self._epoch:
            with self._lock:
                self._tokens.clear()
                self._installations.clear()
            self._epoch = epoch

    async def announce_change(self, installation_id: int, repos: list[str], *, gone: bool) -> None:
        """An installation event: forget here, and tell every other process to forget too."""
        self.forget(installation_id, repos, gone=gone)
        if self._redis is not None:
            self._epoch = str(await self._redis.incr(keys.GITHUB_INSTALLATIONS_EPOCH))

    def client(self, installation_id: int | None) -> Github:
        """A REST client acting as the installation (or the token's user), one per installation."""
        with self._lock:
            if installation_id not in self._clients:
                auth: Auth.Auth
                if installation_id is None or self._integration is None:
                    assert self.config.token is not None
                    auth = Auth.Token(self.config.token.get_secret_value())
                else:
                    auth = _InstallationToken(self, installation_id)
                self._clients[installation_id] = Github(
                    auth=auth,
                    base_url=self.config.api_url,
                    **_pacing(self.config),
                    lazy=True,  # objects load on first use: a reply is one POST, not a GET of each parent first
                )
            return self._clients[installation_id]

    def bot_login(self) -> str:
        """Nightshift's own login: configured, else the App's `<slug>[bot]`, else the personal token's user."""
        if self.config.bot_login:
            return self.config.bot_login
        try:
            if self._integration is not None:
                return f"{self._integration.get_app().slug}[bot]"
            return self.client(None).get_user().login
        except GithubException as e:
            raise GitHubApiError(e.status, api_message(e)) from e

    def repo_of(self, url: str) -> str | None:
        """owner/name of a clone URL on our GitHub (https://github.com/owner/name.git), else None."""
        web = urlsplit(self.config.web_url)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != (web.scheme, web.netloc) or not parts.path.startswith(web.path + "/"):
            return None
        path = parts.path[len(web.path) + 1 :].removesuffix("/").removesuffix(".git").split("/")
        return "/".join(path) if len(path) == 2 and all(path) else None

    async def env_for(self, repo: str) -> dict[str, str]:
        """control_plane.git.GitCredentials: the auth header for git commands talking to one of our repositories."""
        full_name = self.repo_of(repo)
        if full_name is None:
            return {}
        await self.catch_up()
        return git_auth_env(await asyncio.to_thread(self._token_for, full_name))

    def _token_for(self, repo: str) -> str:
        try:
            return self.token(self.installation_for(repo))
        except InstallationGone:  # reinstalled: token() forgot the old installation, so this looks the new one up
            return self.token(self.installation_for(repo))

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
        if self._integration is not None:
            self._integration.close()


def api_message(e: GithubException) -> str:
    """GitHub's error message, from the JSON body PyGithub keeps."""
    data = e.data
    return str(data.get("message", data)) if isinstance(data, dict) else str(data)


def _pacing(config: GitHubConfig) -> dict[str, int | float]:
    """PyGithub spaces its calls (GitHub's advice against secondary rate limits): writes by write_interval_s,
    reads by a quarter of it, as its own defaults do."""
    return {
        "timeout": config.request_timeout_s,
        "seconds_between_writes": config.write_interval_s,
        "seconds_between_requests": config.write_interval_s / 4,
    }
