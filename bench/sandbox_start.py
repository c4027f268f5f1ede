"""Session start to first tool call, with and without a setup snapshot, on a 10,000-file repository whose
`.nightshift/setup.sh` takes 20 s.

    .venv/bin/python bench/sandbox_start.py [--files 10000] [--setup-s 20]

Everything is real but the model (Redis, git, the local sandbox, the anthropic SDK against the scripted stand-in).
Measured in the same run:
- cold: the first session; no snapshot exists, so setup.sh runs (and is snapshotted) before the first tool call;
- warm: a later session on a newer commit; it restores the snapshot and fast-forwards to its commit.
"""

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import git, make_remote, redis_server, run_finished_session, settings

from control_plane.runtime import Runtime
from harness.events import Note, ToolStarted
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use


def add_commit(remote: Path, work: Path, files: dict[str, str]) -> None:
    if not work.exists():
        git("clone", "-q", str(remote), str(work))
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "change", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)


async def first_tool_s(rt: Runtime, repo: Path, prompt: str) -> tuple[float, list[str]]:
    """Seconds from the request to the first tool call, and the session's notes."""
    started, _, events = await run_finished_session(rt, repo, prompt)
    first = next(e.at for e in events if isinstance(e, ToolStarted))
    return first - started, [e.text for e in events if isinstance(e, Note)]


async def main(files: int, setup_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url, AnthropicStandIn() as standin:
        root = Path(tmp)
        for key in ("[bench:cold]", "[bench:warm]"):
            probe = Reply(tool_use("shell", {"command": "test -f .deps/ready && echo ready"}))
            standin.register(Script([probe, Reply(tool_use("finish", {"summary": "done"}))], key=key))
        remote = make_remote(root / "repo", files)
        setup = f"sleep {setup_s:g}\nmkdir -p .deps && touch .deps/ready\n"
        add_commit(remote, root / "work", {".nightshift/setup.sh": setup, ".gitignore": ".deps/\n"})
        async with Runtime.open(settings(root, redis_url, standin.base_url, setup_timeout_s=setup_s + 120)) as rt:
            cold_s, _ = await first_tool_s(rt, remote, "[bench:cold] start")
            add_commit(remote, root / "work", {"later.txt": "a commit after the snapshot\n"})
            warm_s, notes = await first_tool_s(rt, remote, "[bench:warm] start")
        assert any(n.startswith("started from snapshot") for n in notes), notes

    print(f"session start, request → first tool call ({files:,}-file repo, setup.sh of {setup_s:g} s, local sandbox)")
    print(f"  without a snapshot (setup runs, then is snapshotted)   {cold_s:8.2f} s")
    print(f"  with a snapshot (restore + fast-forward one commit)    {warm_s:8.2f} s")
    print(f"  ratio without / with                                   {cold_s / warm_s:8.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--setup-s", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(main(args.files, args.setup_s))
