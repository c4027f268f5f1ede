"""What isolation costs per command: `true` and `ls` through the local sandbox, bare vs today's bwrap vs full isolation.

    .venv/bin/python bench/sandbox_exec_cost.py [--runs 100] [--files 50000]

Measured in the same run, interleaved (one of each in turn, so a busy moment of the machine hits all alike); medians:
- bare: no bwrap (isolation "none"), through LocalSandbox.exec;
- before: the bwrap argv of the previous release (the whole host root read-only, hidden paths covered, every
  namespace, commands as the worker's uid with its capabilities), spawned the way exec spawns it;
- full argv: this release's argv (minimal root, setpriv to the session's uid when root), spawned the same way;
- full exec: LocalSandbox.exec with bwrap: the full argv plus the disk-quota bookkeeping (a check before, a watch
  during, a measurement after, in a thread).
Then the quota's own cost: one `du` walk of a session holding --files files (the measurement after each command, off
its path; also the poll period during a long command, at most every 10 walks).
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.sandboxes import SandboxSpec
from harness.sandboxes._disk_quota import _du
from harness.sandboxes._process import CommandRun
from harness.sandboxes.local import LocalSandbox, LocalSandboxConfig, LocalSandboxProvider

COMMANDS = {"true": "true", "ls": "ls -la /usr/bin > /dev/null"}


def previous_argv(bwrap: str, root: Path, hidden: Iterable[Path], env: Mapping[str, str]) -> list[str]:
    """The previous release's bwrap argv, for the baseline (harness/sandboxes/local.py before the minimal root)."""
    args = [bwrap]
    for name in sorted(os.listdir("/")):
        if name in {"proc", "dev", "tmp", "home", "root", "workspace"}:
            continue
        host = "/" + name
        args += ["--symlink", os.readlink(host), host] if os.path.islink(host) else ["--ro-bind", host, host]
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/home", "--tmpfs", "/root"]
    for path in sorted({os.path.realpath(p) for p in hidden}):
        args += ["--tmpfs", path, "--remount-ro", path] if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
    for name, place in (("tmp", "/tmp"), ("home", "/home/agent"), ("workspace", "/workspace")):
        args += ["--bind", str(root / name), place]
    args += ["--remount-ro", "/", "--unshare-all", "--share-net", "--die-with-parent", "--new-session", "--clearenv"]
    args += [arg for name, value in env.items() for arg in ("--setenv", name, value)]
    return [*args, "--chdir", "/workspace", "--"]


async def spawn(argv: list[str], env: Mapping[str, str], cwd: Path) -> None:
    run = CommandRun(
        argv, env=env, cwd=cwd, timeout_s=60, output_limit_bytes=64_000, kill_after_output_bytes=10**8, on_output=None
    )
    result = await run.execute()
    assert result.exit_code == 0, result.output


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def exec_ok(sb: LocalSandbox, command: str) -> None:
    result = await sb.exec(command)
    assert result.exit_code == 0, result.output


async def main(runs: int, files: int) -> None:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        root = Path(tmp)
        bare = await LocalSandboxProvider(LocalSandboxConfig(root_dir=root / "bare", isolation="none")).create(
            SandboxSpec(session_id="s1")
        )
        full = await LocalSandboxProvider(LocalSandboxConfig(root_dir=root / "full", isolation="bwrap")).create(
            SandboxSpec(session_id="s1")
        )
        session = root / "full" / "s1"
        env = full._command_env({})
        # Dirs of the worker's own, as before: the session's belong to its uid, which the old argv's namespace lacks.
        old_session = root / "before"
        for name in ("workspace", "home", "tmp"):
            (old_session / name).mkdir(parents=True)
        before = previous_argv(full._bwrap or "bwrap", old_session, [root / "full", Path.home()], env)
        figures: dict[tuple[str, str], list[float]] = {}
        for name, command in COMMANDS.items():
            shell = full._argv(command, env, "/workspace")
            prlimit = shell[shell.index("prlimit") :]
            ways: dict[str, Callable[[], Awaitable[object]]] = {
                "bare": lambda c=command: exec_ok(bare, c),
                "before": lambda p=prlimit: spawn([*before, *p], env, old_session / "workspace"),
                "full argv": lambda a=shell: spawn(a, env, session / "workspace"),
                "full exec": lambda c=command: exec_ok(full, c),
            }
            for way in ways.values():
                await way()  # warm the page cache
            for _ in range(runs):
                for way_name, way in ways.items():
                    figures.setdefault((name, way_name), []).append(await timed(way))
        tree = session / "workspace" / "tree"
        for i in range(files):
            directory = tree / f"d{i // 1000}"
            if i % 1000 == 0:
                directory.mkdir(parents=True)
            (directory / f"f{i}").write_text("x" * 100)
        walks = []
        for _ in range(5):
            started = time.perf_counter()
            await asyncio.to_thread(_du, session)
            walks.append(time.perf_counter() - started)
        await bare.terminate()
        await full.terminate()

    print(f"per-command cost, median of {runs} runs each, interleaved (uid {os.geteuid()}, local sandbox)")
    for name in COMMANDS:
        base, prior = (statistics.median(figures[name, w]) for w in ("bare", "before"))
        print(f"  {name}:")
        for way_name in ("bare", "before", "full argv", "full exec"):
            ms = statistics.median(figures[name, way_name])
            print(f"    {way_name:<10} {ms * 1000:7.2f} ms   x{ms / base:5.2f} of bare   x{ms / prior:5.2f} of before")
    walk = statistics.median(walks)
    print(f"disk-quota walk (du) of a session with {files:,} files: {walk * 1000:.0f} ms (median of 5)")
    print(f"  after each command: in a thread, off its path; during one: every {max(1.0, 10 * walk):.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--files", type=int, default=50_000)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.files))
