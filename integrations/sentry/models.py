"""Our own view of a Sentry alert: what the triage prompt and the session need, nothing of Sentry's JSON."""

from pydantic import BaseModel


class Frame(BaseModel):
    filename: str
    lineno: int | None = None
    function: str | None = None
    context_line: str | None = None
    in_app: bool = False


class ExceptionInfo(BaseModel):
    type: str
    value: str = ""
    frames: list[Frame] = []
    """Oldest first, as Sentry sends them."""


class Breadcrumb(BaseModel):
    category: str = ""
    message: str = ""
    level: str = ""


class Alert(BaseModel):
    """One issue alert (or a newly created issue) of one Sentry project."""

    resource: str
    project: str
    """The project's slug when the payload names it, else its numeric id: the key of the project maps."""
    issue_id: str
    event_id: str | None = None
    """The Sentry event an event alert is about (none for a new issue): one event is one alert, whatever the
    Request-ID it comes under (the header is not signed, and two alert rules may fire on one event)."""
    title: str
    culprit: str = ""
    web_url: str
    release: str | None = None
    tags: list[tuple[str, str]] = []
    exceptions: list[ExceptionInfo] = []
    breadcrumbs: list[Breadcrumb] = []
    rule: str | None = None

    @property
    def origin(self) -> str:
        """One Sentry issue maps to one session."""
        return f"sentry:{self.issue_id}"


class Delivery(BaseModel):
    request_id: str
    received_at: float
    alert: Alert
