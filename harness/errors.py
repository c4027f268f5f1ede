"""Errors the harness raises on purpose.

NightshiftError
 ├── ConfigError            bad or missing configuration (a user can fix it)
 ├── ModelAPIError          the model API answered with an error we could not retry past
 ├── SandboxError           the sandbox could not do what was asked
 │    └── SandboxPathError  a path outside the sandbox's workspace
 └── ToolInputError         the model called a tool with bad arguments (reported back to the model)

HandBack (a signal, not a failure): the run stopped at a step boundary so another worker can go on with it.
"""

from typing import ClassVar


class NightshiftError(Exception):
    """Root of every error we raise on purpose."""

    retryable: ClassVar[bool] = False


class ConfigError(NightshiftError):
    pass


class ModelAPIError(NightshiftError):
    def __init__(self, message: str, *, status_code: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.can_retry = retryable


class SandboxError(NightshiftError):
    pass


class SandboxPathError(SandboxError):
    pass


class ToolInputError(NightshiftError):
    pass


class HandBack(Exception):
    """Raised by the loop between steps when its worker is stopping: nothing is half done, the log is complete."""
