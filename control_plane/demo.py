"""`nightshift demo`: one real session — embedded Redis, sandbox, git push — driven by a SCRIPTED model.

The model is a replayed script served by the Anthropic stand-in (harness/testing), clearly labelled as such:
it shows a newcomer the whole path working before they have an API key. It is not a real model.
"""

import subprocess
from pathlib import Path

from pydantic import SecretStr

from control_plane.config import Settings
from control_plane.models import NewSession
from harness.testing.anthropic_standin import Reply, Script, text, tool_use

BUGGY = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
CHECK = "python3 -c 'from calc import add; assert add(2, 3) == 5, add(2, 3); print(\"add(2, 3) == 5\")'"
PROMPT = "[demo] add(2, 3) returns -1 instead of 5: please fix calc.add"


def script() -> Script:
    return Script(
        [
            Reply(text("Scripted demo: I will read calc.py first."), tool_use("read_file", {"path": "calc.py"})),
            Reply(tool_use("shell", {"command": CHECK})),
            Reply(
                text("It subtracts. Fixing."),
                tool_use("edit_file", {"path": "calc.py", "old_text": "a - b", "new_text": "a + b"}),
            ),
            Reply(tool_use("shell", {"command": CHECK})),
            Reply(
                tool_use(
                    "finish",
                    {
                        "summary": "calc.add subtracted instead of adding; it now adds, and "
                        "add(2, 3) == 5 was checked in the sandbox."
                    },
                )
            ),
        ],
        key="[demo]",
    )


def make_repo(root: Path) -> Path:
    src, bare = root / "calc", root / "calc.git"
    src.mkdir(parents=True)
    (src / "calc.py").write_text(BUGGY)
    (src / "test_calc.py").write_text(TEST)
    identity = ["-c", "user.name=Nightshift demo", "-c", "user.email=demo@nightshift.invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*identity, "commit", "-q", "-m", "calc with a bug"]):
        subprocess.run(["git", *args], cwd=src, check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)
    return bare


def demo_settings(settings: Settings, base_url: str) -> Settings:
    return settings.model_copy(
        update={"anthropic_api_key": SecretStr("scripted-demo-key"), "anthropic_base_url": base_url, "max_steps": 10}
    )


def demo_request(repo: Path, requested_by: str) -> NewSession:
    return NewSession(repo=str(repo), prompt=PROMPT, requested_by=requested_by, source="cli")
