"""control_plane.push_policy.PullRequestHeads for GitHub: a pull request's head branch as GitHub says it now."""

import re

from integrations.github.api import GitHubApi
from integrations.github.auth import GitHubAuth
from integrations.github.errors import GitHubApiError

_ORIGIN = re.compile(r"github:([^/#\s]+/[^/#\s]+)#([0-9]+)")
"""integrations.github.models.origin_key's shape."""


class PullRequestHeads:
    def __init__(self, auth: GitHubAuth, api: GitHubApi) -> None:
        self.auth, self.api = auth, api

    async def head_branch(self, origin: str, repo: str) -> str | None:
        full_name = self.auth.repo_of(repo)
        found = _ORIGIN.fullmatch(origin)
        if full_name is None or found is None or found[1].lower() != full_name.lower():
            return None
        try:
            pull = await self.api.pull(full_name, int(found[2]), None)
        except GitHubApiError as e:
            if e.status == 404:  # an issue's number, or no such pull request
                return None
            raise
        if pull.head_repo is None or pull.head_repo.lower() != full_name.lower():
            return None  # a fork's branch: never ours to push to
        return pull.head_ref
