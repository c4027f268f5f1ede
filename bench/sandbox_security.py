"""Sandbox security, the full run: leak probes and runaway commands against the local provider, with figures.

    .venv/bin/python bench/sandbox_security.py [--pids-cgroup /sys/fs/cgroup/pids/nightshift-bench]

Leak probes: this script starts itself again with every platform secret's environment variable set to a unique
canary (so the canaries are in that process's /proc/<pid>/environ from its start, as in a real worker), and there
runs the probe in a sandbox per isolation mode: env, every /proc/*/environ and cmdline, git config and credential
files, and `grep -r` over the whole visible filesystem (/proc, /sys and /dev left out). Printed: canaries seen per
mode. `bwrap` must be 0; `none` (no bubblewrap) is printed as the baseline of what bubblewrap is protecting from.

Runaway commands (bwrap): a fork bomb (only with --pids-cgroup: as root, RLIMIT_NPROC is not applied), 2 GB of
output, a 20 GB file, a command that never ends. Printed per command: how it ended, the bytes involved, the seconds
it took, and processes left on the host afterwards (must be 0).
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.sandboxes import SandboxSpec
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider

SECRET_VARS = [
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GITHUB_TOKEN",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_WEBHOOK_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SENTRY_CLIENT_SECRET",
    "NIGHTSHIFT_API_TOKEN",
    "NIGHTSHIFT_GITHUB_OAUTH_CLIENT_SECRET",
    "NIGHTSHIFT_WEBHOOKS",
]
PROBE = (
    "env; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do tr '\\0' '\\n' < $f; done 2>/dev/null; "
    "git config -l 2>&1; cat ~/.gitconfig ~/.git-credentials 2>&1; p=canar; "
    'grep -rIl "${p}y-" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null; echo probe-done'
)


def provider(root: Path, isolation: str, **config: object) -> LocalSandboxProvider:
    values = {"root_dir": root, "isolation": isolation, **config}
    return LocalSandboxProvider(LocalSandboxConfig.model_validate(values))


async def probe_child(root: Path) -> None:
    canaries = {name: os.environ[name] for name in SECRET_VARS}
    seen: dict[str, dict[str, int]] = {}
    for isolation in ("bwrap", "none"):
        sb = await provider(root / isolation, isolation).create(SandboxSpec(session_id="probe"))
        result = await sb.exec(PROBE, timeout_s=600, output_limit_bytes=50_000_000)
        assert "probe-done" in result.output, result.output[-2000:]
        seen[isolation] = {n: result.output.count(v) for n, v in canaries.items() if v in result.output}
        await sb.terminate()
    print(json.dumps(seen))


def leak_figures(root: Path) -> None:
    run = uuid.uuid4().hex[:8]
    env = {**os.environ, **{name: f"canary-{name.lower()}-{run}" for name in SECRET_VARS}}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, __file__, "--probe-child", str(root)], env=env, capture_output=True, text=True, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"leak probes ({len(SECRET_VARS)} secrets, {time.monotonic() - started:.0f} s):")
    for isolation, hits in seen.items():
        print(f"  isolation={isolation}: canaries seen {sum(hits.values())} ({', '.join(sorted(hits)) or 'none'})")


def leftovers(marker: str) -> int:
    found = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found += 1
        except OSError:
            continue
    return found


async def runaway_figures(root: Path, pids_cgroup: Path | None) -> None:
    mark = f"runaway-{uuid.uuid4().hex[:8]}"
    commands = {
        "2 GB of output": (f"head -c 2000000000 /dev/zero # {mark}", 120),
        "a 20 GB file": (f"head -c 20000000000 /dev/zero > fill.bin # {mark}", 120),
        "never ends": (f"sleep 3600 # {mark}", 5),
    }
    if pids_cgroup is not None:
        commands["fork bomb"] = (f": {mark}; b(){{ b|b& }}; b; sleep 3600", 10)
    config = {"max_file_bytes": 1_000_000_000, "max_processes": 256, "pids_cgroup": pids_cgroup}
    sb = await provider(root / "runaway", "bwrap", **config).create(SandboxSpec(session_id="runaway"))
    print("runaway commands (bwrap; caps: 50 MB of output, 1 GB per file, 256 processes):")
    for name, (command, timeout_s) in commands.items():
        started = time.monotonic()
        result = await sb.exec(command, timeout_s=timeout_s)
        took = time.monotonic() - started
        ending = result.output.strip().splitlines()[-1] if result.output.strip() else ""
        size = (root / "runaway/runaway/workspace/fill.bin").stat().st_size if "fill" in command else 0
        print(
            f"  {name}: exit={result.exit_code} timed_out={result.timed_out} output_bytes={result.output_bytes}"
            f" file_bytes={size} took={took:.1f}s left_on_host={leftovers(mark)} last line: {ending[:110]}"
        )
        if size:
            os.remove(root / "runaway/runaway/workspace/fill.bin")
    after = await sb.exec("echo alive")
    print(f"  the sandbox afterwards: {after.output.strip()!r}")
    await sb.terminate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pids-cgroup", type=Path, default=None)
    parser.add_argument("--probe-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_child is not None:
        asyncio.run(probe_child(args.probe_child))
        return
    print(
        "command: python bench/sandbox_security.py" + (f" --pids-cgroup {args.pids_cgroup}" if args.pids_cgroup else "")
    )
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        leak_figures(Path(tmp))
        asyncio.run(runaway_figures(Path(tmp), args.pids_cgroup))


if __name__ == "__main__":
    main()
