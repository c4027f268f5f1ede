"""The Jinja environment: autoescaping on for every template, strict about undefined names, and the helpers
templates may call. Pages and live fragments render through the same event templates."""

from collections.abc import Mapping

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from control_plane.web import present
from control_plane.web.timeline import attach_to
from harness.events import TERMINAL_STATUSES, LoggedEvent


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("control_plane.web", "templates"),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        repo_label=present.repo_label,
        clock=present.clock,
        iso=present.iso,
        when=present.when,
        money=present.money,
        tokens=present.tokens,
        duration=present.duration,
        first_line=present.first_line,
    )
    env.globals.update(
        tool_call=present.tool_call,
        repo_url=present.repo_url,
        branch_url=present.branch_url,
        attach_to=attach_to,
        query=present.query,
        safe_url=present.safe_url,
        inline_images=present.INLINE_IMAGES,
        terminal=TERMINAL_STATUSES,
    )
    return env


class Renderer:
    def __init__(self) -> None:
        self.env = environment()

    def page(self, name: str, context: Mapping[str, object]) -> str:
        return self.env.get_template(name).render(context)

    def event(self, session_id: str, item: LoggedEvent) -> str:
        """One event as the live stream sends it; the page's script nests it where data-attach says."""
        return self.env.get_template("event.html").render(session_id=session_id, item=item, attached={})
