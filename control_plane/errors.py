"""Errors the control plane raises on purpose (the harness's NightshiftError is the root).

NightshiftError
 ├── ConfigError (harness)      bad or missing configuration
 ├── NotFound                   no such session
 ├── BadRequest                 input we refuse: too large, malformed, unknown base ref
 │    └── RepoUnreachable       the repository cannot be listed with git
 ├── Conflict                   the session is not in a state that allows this
 │    └── OriginTaken           another session already holds this origin (issue, PR, thread)
 ├── GitError                   a git command in the control plane failed
 └── PushRefused                the push policy refused a session's branch (control_plane/push_policy.py)
"""

from harness.errors import NightshiftError


class NotFound(NightshiftError):
    pass


class BadRequest(NightshiftError):
    pass


class RepoUnreachable(BadRequest):
    pass


class Conflict(NightshiftError):
    pass


class OriginTaken(Conflict):
    def __init__(self, origin: str, session_id: str) -> None:
        super().__init__(f"{origin} already has session {session_id}")
        self.origin, self.session_id = origin, session_id


class GitError(NightshiftError):
    def __init__(self, command: str, stderr: str) -> None:
        super().__init__(f"git {command} failed: {stderr.strip()[-2000:]}")
        self.stderr = stderr


class PushRefused(NightshiftError):
    pass
