"""`nightshift doctor`: one check per part of the setup, each saying OK or what is wrong and how to fix it.

A check is an async callable returning one `Finding`. The composition root (cli.py) picks the checks (the
integrations bring their own); this module runs them, each under a time limit, and renders the report.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from pydantic import BaseModel

Status = Literal["ok", "warn", "fail", "skip"]


class Finding(BaseModel):
    part: str
    """What was checked: redis, model, github, slack, sentry, modal, sandbox, bubblewrap."""
    status: Status
    """skip: the part is optional and not configured."""
    message: str
    fix: str = ""
    """What to do about a warn or fail."""


class Report(BaseModel):
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return all(f.status != "fail" for f in self.findings)


Check = Callable[[], Awaitable[Finding]]


async def run_checks(checks: Sequence[tuple[str, Check]], *, timeout_s: float = 30.0) -> Report:
    """One after the other (the output reads in order); a check that hangs is a failure of its part."""
    findings = []
    for part, check in checks:
        try:
            async with asyncio.timeout(timeout_s):
                findings.append(await check())
        except TimeoutError:
            findings.append(Finding(part=part, status="fail", message=f"no answer within {timeout_s:g} s"))
    return Report(findings=findings)


def render(report: Report) -> list[str]:
    """`OK    redis       ...`, with the fix on an indented line under a warn or a failure."""
    width = max((len(f.part) for f in report.findings), default=0)
    lines = []
    for f in report.findings:
        lines.append(f"{f.status.upper():<5} {f.part:<{width}}  {f.message}")
        if f.fix:
            lines.append(f"{'':<5} {'':<{width}}  fix: {f.fix}")
    return lines
