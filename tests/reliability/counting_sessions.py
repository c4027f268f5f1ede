"""Scripted sessions whose every tool call leaves a countable trace: step i appends the line "i" to calls.log in
the sandbox, and the file is pushed with the work. A step run twice shows as a repeated line, a lost one as a gap."""

import subprocess
from pathlib import Path

from harness.testing.anthropic_standin import Reply, Script, tool_use

FOLLOW_UP = "posted during the fault"


def counting_script(tag: str, steps: int, *, delay_s: float = 0.0) -> Script:
    """`steps` shell calls, then finish; spare finishes answer the extra turn a follow-up message asks for."""
    calls = [
        Reply(tool_use("shell", {"command": f"echo {i} >> calls.log"}), delay_s=delay_s) for i in range(1, steps + 1)
    ]
    finishes = [Reply(tool_use("finish", {"summary": "counted"})) for _ in range(5)]
    return Script([*calls, *finishes], key=tag)


def pushed_calls(remote: Path, branch: str) -> list[int]:
    """The step numbers in calls.log on the pushed branch, in the order the tool calls ran."""
    shown = subprocess.run(
        ["git", "-C", str(remote), "show", f"{branch}:calls.log"], capture_output=True, text=True, check=True
    )
    return [int(line) for line in shown.stdout.split()]
