"""Errors of the GitHub integration.

NightshiftError
 └── GitHubError
      ├── GitHubApiError         a REST call failed (status 0: GitHub could not be reached)
      │    └── InstallationGone  an installation's token endpoint answered 404 (uninstalled; reinstalled)
      ├── NotInstalled           the App is not installed on the repository (also a BadRequest: HTTP 400)
      └── MalformedDelivery      a webhook delivery we cannot read (also a BadRequest: HTTP 400)
"""

from control_plane.errors import BadRequest
from harness.errors import NightshiftError


class GitHubError(NightshiftError):
    pass


class GitHubApiError(GitHubError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"GitHub API answered {status}: {message}" if status else f"GitHub unreachable: {message}")
        self.status, self.message = status, message


class InstallationGone(GitHubApiError):
    def __init__(self, installation_id: int) -> None:
        super().__init__(404, f"installation {installation_id} is gone (the App was uninstalled or reinstalled)")
        self.installation_id = installation_id


class NotInstalled(GitHubError, BadRequest):
    def __init__(self, repo: str) -> None:
        super().__init__(f"the Nightshift GitHub App is not installed on {repo}")
        self.repo = repo


class MalformedDelivery(GitHubError, BadRequest):
    pass
