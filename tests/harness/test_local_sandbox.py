"""The local sandbox provider, with real processes and (where installed) real bubblewrap."""

import asyncio
import functools
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.errors import ConfigError, SandboxError, SandboxPathError
from harness.sandboxes import SandboxSpec, _process, _rootfs, provider_class
from harness.sandboxes._process import _dies_with
from harness.sandboxes.base import NetworkPolicy
from harness.sandboxes.local import LocalSandbox, LocalSandboxConfig, LocalSandboxProvider

SECRET = "s3cr3t-" + uuid.uuid4().hex
# bubblewrap is part of the product's isolation: install.sh installs it, and without it these tests fail, not skip.
assert shutil.which("bwrap"), "bubblewrap (bwrap) is required for the sandbox tests: run ./install.sh"
ISOLATIONS = ["bwrap", "none"]


def make_provider(tmp_path: Path, isolation: str, **config: object) -> LocalSandboxProvider:
    return LocalSandboxProvider(
        LocalSandboxConfig.model_validate({"root_dir": tmp_path / "sandboxes", "isolation": isolation, **config})
    )


@pytest.fixture(params=ISOLATIONS)
def isolation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def sandbox(tmp_path: Path, isolation: str) -> AsyncIterator[LocalSandbox]:
    sb = await make_provider(tmp_path, isolation).create(SandboxSpec(session_id="s1"))
    yield sb
    await sb.terminate()


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A directory outside /tmp: bwrap gives commands their own /tmp, which alone would hide anything in tmp_path."""
    path = Path(tempfile.mkdtemp(prefix="nightshift-test-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path)


def unique_sleep() -> str:
    """A `sleep` duration no other process on the machine has in its command line."""
    return f"100.{uuid.uuid4().int % 10**12:012d}"


def processes_with(marker: str) -> list[tuple[int, bytes]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we were looking
        if marker.encode() in cmdline:
            found.append((int(entry.name), cmdline))
    return found


async def sleeps_running(marker: str, count: int) -> None:
    for _ in range(200):
        if sum(cmdline.startswith(b"sleep\0") for _, cmdline in processes_with(marker)) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the {count} sleep processes never showed up")


async def survivors(marker: str) -> list[bytes]:
    """Processes still running with the marker after a moment's grace (killed ones, if any, so they don't linger)."""
    for _ in range(40):
        found = processes_with(marker)
        if not found:
            return []
        await asyncio.sleep(0.05)
    for pid, _ in found:
        os.kill(pid, 9)
    return [cmdline for _, cmdline in found]


# --- running commands ---


async def test_echo_exit_codes_and_merged_stderr(sandbox: LocalSandbox) -> None:
    result = await sandbox.exec("echo out; echo err >&2; exit 7")
    assert (result.exit_code, result.output, result.truncated, result.timed_out) == (7, "out\nerr\n", False, False)
    assert result.output_bytes == 8
    assert (await sandbox.exec("true")).exit_code == 0
    assert (await sandbox.exec("kill -9 $$")).exit_code == 137


async def test_cwd_relative_and_absolute(sandbox: LocalSandbox) -> None:
    await sandbox.exec("mkdir -p sub/dir")
    assert (await sandbox.exec("pwd")).output == f"{sandbox.workdir}\n"
    assert (await sandbox.exec("pwd", cwd="sub/dir")).output == f"{sandbox.workdir}/sub/dir\n"
    assert (await sandbox.exec("pwd", cwd=f"{sandbox.workdir}/sub")).output == f"{sandbox.workdir}/sub\n"
    with pytest.raises(SandboxError, match="not a directory"):
        await sandbox.exec("pwd", cwd="missing")
    with pytest.raises(SandboxPathError):
        await sandbox.exec("pwd", cwd="../..")


async def test_env_is_built_from_scratch(
    sandbox: LocalSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_TEST_SECRET", SECRET)
    result = await sandbox.exec("env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'", env={"EXTRA": "yes"})
    assert SECRET not in result.output
    assert "NIGHTSHIFT_TEST_SECRET" not in result.output
    assert "LANG=C.UTF-8" in result.output
    assert "GIT_TERMINAL_PROMPT=0" in result.output
    assert "EXTRA=yes" in result.output


async def test_spec_env_and_call_env(tmp_path: Path, isolation: str) -> None:
    sb = await make_provider(tmp_path, isolation).create(SandboxSpec(session_id="s1", env={"A": "1", "B": "x"}))
    assert (await sb.exec('echo "$A-$B"', env={"B": "2"})).output == "1-2\n"
    assert (await sb.exec('echo "$A-$B"')).output == "1-x\n"
    with pytest.raises(SandboxError, match="invalid environment variable"):
        await sb.exec("true", env={"A=B": "1"})


async def test_other_processes_are_invisible(sandbox: LocalSandbox, isolation: str) -> None:
    # A stand-in for the control plane: a host process whose environment holds a secret.
    marker = unique_sleep()
    sleep = shutil.which("sleep") or "sleep"
    control_plane = subprocess.Popen([sleep, marker], env={"NIGHTSHIFT_TEST_SECRET": SECRET})
    try:
        # grep inside the sandbox (on a busy host the whole dump would be cut at the output limit), with patterns
        # that match the values but not themselves: the grep's own command line is in /proc too.
        secret, mark = (f"{v[:-1]}[{v[-1]}]" for v in (SECRET, marker))
        probe = f"cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -e '{secret}' -e '{mark}'"
        result = await sandbox.exec(probe)
    finally:
        control_plane.kill()
        control_plane.wait()
    # bwrap's pid namespace hides the process (its user namespace would hide the environ on its own);
    # seeing both without isolation shows the probe works.
    assert (SECRET in result.output) == (isolation == "none")
    assert (marker in result.output) == (isolation == "none")


async def test_host_state_is_out_of_sight(host_dir: Path, isolation: str) -> None:
    data = host_dir / "data"
    (data / "keys").mkdir(parents=True)
    (data / "keys" / "api-key").write_text(SECRET)
    config_file = host_dir / "nightshift.toml"
    config_file.write_text(f'api_token = "{SECRET}"\n')
    provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=data / "sandboxes", isolation=isolation))
    sb = await provider.create(SandboxSpec(session_id="s1"))
    result = await sb.exec(
        f"cat {config_file} {data}/keys/api-key; grep -r s3cr3t {data}; echo works > note.txt; cat note.txt"
    )
    # The sandbox lives under the data dir and still works; the data dir itself is not in its root at all.
    assert result.output.endswith("works\n")
    assert (SECRET in result.output) == (isolation == "none")


HOST_STATE = [
    "/etc/shadow",
    "/etc/gitconfig",
    "/etc/pip.conf",
    "/etc/ssl/private",
    "/root",
    "/work",
    "/srv",
    "/var/lib",
    "/opt",
    "/run",
    "/mnt",
    "/media",
    "/sys",
    "/boot",
]


async def test_the_root_holds_only_what_toolchains_need(host_dir: Path) -> None:
    provider = make_provider(host_dir, "bwrap")
    other = await provider.create(SandboxSpec(session_id="other"))
    await other.write_file("mine.txt", SECRET.encode())
    sb = await provider.create(SandboxSpec(session_id="s1"))
    sandboxes = host_dir / "sandboxes"
    probes = [*HOST_STATE, str(host_dir), str(sandboxes), str(sandboxes / "other"), "/proc/1/root/work"]
    checks = "; ".join(f"(ls -d {p} >/dev/null 2>&1 && echo SEEN {p})" for p in probes)
    result = await sb.exec(f"{checks}; ls -A / /etc; grep -rs s3cr3t / --exclude-dir=proc --exclude-dir=usr; true")
    assert "SEEN" not in result.output
    assert SECRET not in result.output
    top, etc = result.output.split("/etc:")
    assert top.split() == ["/:", "bin", "dev", "etc", "home", "lib", "lib64", "proc", "sbin", "tmp", "usr", "workspace"]
    assert {"passwd", "group", "hosts", "resolv.conf", "ld.so.cache", "alternatives", "ssl"} <= set(etc.split())
    assert not {"shadow", "gitconfig", "pip.conf", "npmrc", "sudoers"} & set(etc.split())


async def test_writes_outside_workspace_home_and_tmp_fail(tmp_path: Path) -> None:
    sandbox = await make_provider(tmp_path, "bwrap").create(SandboxSpec(session_id="s1"))
    outside = ["/x", "/usr/x", "/etc/x", "/etc/passwd", "/dev/x", "/home/x", "/proc/sys/kernel/hostname"]
    result = await sandbox.exec(
        " ".join(f"(echo x > {p}) 2>/dev/null && echo WROTE {p};" for p in outside)
        + " echo w > /workspace/a && echo h > ~/b && echo t > /tmp/c && echo /dev/shm > /dev/shm/d && echo inside"
    )
    assert result.output == "inside\n"


async def test_commands_run_unprivileged(tmp_path: Path) -> None:
    sb = await make_provider(tmp_path, "bwrap").create(SandboxSpec(session_id="s1"))
    result = await sb.exec(
        "id -u; id -g; id -G; id -un; grep -E '^(Cap(Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status"
    )
    uid, gid, groups, name, *status = result.output.split("\n")[:-1]
    expected = str(LocalSandboxConfig(root_dir=tmp_path).uid_first) if os.geteuid() == 0 else str(os.getuid())
    assert (uid, gid, groups, name) == (expected, expected, expected, "agent")
    assert [line.split() for line in status] == [
        ["CapPrm:", "0000000000000000"],
        ["CapEff:", "0000000000000000"],
        ["CapBnd:", "0000000000000000"],
        ["CapAmb:", "0000000000000000"],
        ["NoNewPrivs:", "1"],
    ]
    # No way back up: setuid binaries do not elevate under no_new_privs, and there is no capability to use.
    again = await sb.exec("su -c id root </dev/null 2>&1; setpriv --reuid=0 id 2>&1; echo done")
    assert "uid=0" not in again.output and again.output.endswith("done\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="sessions get uids of their own only when the worker runs as root")
async def test_each_session_has_its_own_uid(host_dir: Path) -> None:
    provider = make_provider(host_dir, "bwrap", uid_first=1_950_000_000, uid_count=2)
    first = await provider.create(SandboxSpec(session_id="first"))
    second = await provider.create(SandboxSpec(session_id="second"))
    assert [(await sb.exec("id -u")).output for sb in (first, second)] == ["1950000000\n", "1950000001\n"]
    with pytest.raises(SandboxError, match="all 2 sandbox uids from 1950000000 are in use"):
        await provider.create(SandboxSpec(session_id="third"))
    await first.terminate()  # its uid is free again
    third = await provider.create(SandboxSpec(session_id="third"))
    assert (await third.exec("id -u")).output == "1950000000\n"
    # A worker restart finds each session's uid again.
    attached = await make_provider(host_dir, "bwrap", uid_first=1_950_000_000, uid_count=2).attach("second")
    assert attached is not None and (await attached.exec("id -u")).output == "1950000001\n"


async def test_files_the_worker_writes_belong_to_the_sandbox_user(tmp_path: Path) -> None:
    sb = await make_provider(tmp_path, "bwrap").create(SandboxSpec(session_id="s1"))
    await sb.write_file("new/dir/seed.bundle", b"from the control plane")
    result = await sb.exec("echo more >> new/dir/seed.bundle && touch new/dir/next && rm -r new && echo ok")
    assert result.output == "ok\n"


async def test_a_restored_snapshot_belongs_to_the_new_sessions_user(tmp_path: Path) -> None:
    provider = make_provider(tmp_path, "bwrap")
    source = await provider.create(SandboxSpec(session_id="source"))
    await source.exec("mkdir -p deps && echo built > deps/out && ln -s /etc/passwd deps/link && echo cfg > ~/.rc")
    ref = await source.snapshot()
    restored = await provider.restore(SandboxSpec(session_id="copy"), ref)
    result = await restored.exec("echo more >> deps/out && cat deps/out ~/.rc && rm -r deps && echo removed")
    assert result.output == "built\nmore\ncfg\nremoved\n"
    if os.geteuid() == 0:  # two sessions, two uids: the copy was handed over
        assert (await restored.exec("id -u")).output != (await source.exec("id -u")).output
    assert Path("/etc/passwd").stat().st_uid == 0  # chown -R did not follow the link


def a_wheel() -> bytes:
    """A pure-Python wheel made by hand, so pip installs it with no network and no build backend."""
    files = {
        "mypkg/__init__.py": "ANSWER = 42\n",
        "mypkg-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1\n",
        "mypkg-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in [*files, "mypkg-0.1.dist-info/RECORD"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, text in {**files, "mypkg-0.1.dist-info/RECORD": record}.items():
            wheel.writestr(name, text)
    return buffer.getvalue()


async def test_toolchains_work_in_the_minimal_root(tmp_path: Path) -> None:
    sb = await make_provider(tmp_path, "bwrap").create(
        SandboxSpec(session_id="s1", network=NetworkPolicy(mode="blocked"))
    )
    await sb.write_file("dist/mypkg-0.1-py3-none-any.whl", a_wheel())
    steps = {  # name: (command, the last line it prints)
        "git": (
            "git init -q r && cd r && git -c user.name=a -c user.email=a@b commit -q --allow-empty -m m "
            "&& git log --format=%s",
            "m",
        ),
        "venv+pip": (
            "python3 -m venv venv && venv/bin/pip install -q --no-index dist/mypkg-0.1-py3-none-any.whl "
            "&& venv/bin/python -c 'import mypkg; print(mypkg.ANSWER)'",
            "42",
        ),
        "node": ("node -e 'console.log(require(\"os\").userInfo().username)'", "agent"),
        "gcc": ("printf 'int main(void){return 7;}' > a.c && gcc a.c -o a; ./a; echo $?", "7"),
        "make": ("printf 'all:\\n\\t@echo made\\n' > Makefile && make", "made"),
    }
    for name, (command, last_line) in steps.items():
        result = await sb.exec(command, timeout_s=300)
        assert (result.exit_code, result.output.split("\n")[-2]) == (0, last_line), f"{name}: {result.output}"


async def test_read_only_paths_widen_the_view(host_dir: Path) -> None:
    tool = host_dir / "opt" / "tool"
    tool.mkdir(parents=True)
    (tool / "run").write_text("tool\n")
    sb = await make_provider(host_dir, "bwrap", read_only_paths=[tool]).create(SandboxSpec(session_id="s1"))
    result = await sb.exec(f"cat {tool}/run; touch {tool}/x 2>/dev/null || echo read-only; ls {host_dir}")
    assert result.output == "tool\nread-only\nopt\n"


def test_read_only_paths_that_would_show_private_ones_are_refused(host_dir: Path) -> None:
    data = host_dir / "data"
    (data / "sandboxes").mkdir(parents=True)
    for path, error in [
        (host_dir, "would show"),  # holds root_dir (the sandboxes)
        (data / "sandboxes", "would show"),
        (Path("relative/bin"), "not absolute"),
        (host_dir / "missing", "does not exist"),
    ]:
        with pytest.raises(ConfigError, match=error):
            LocalSandboxProvider(
                LocalSandboxConfig(root_dir=data / "sandboxes", isolation="bwrap", read_only_paths=[path])
            )
    with pytest.raises(ConfigError, match="would show"):
        LocalSandboxProvider(
            LocalSandboxConfig(
                root_dir=data / "sandboxes", isolation="bwrap", read_only_paths=[host_dir], private_paths=[data]
            )
        )


async def test_sessions_cannot_see_each_other(host_dir: Path) -> None:
    provider = make_provider(host_dir, "bwrap")
    first = await provider.create(SandboxSpec(session_id="first"))
    second = await provider.create(SandboxSpec(session_id="second"))
    await first.write_file("mine.txt", SECRET.encode())
    result = await second.exec(f"cat {host_dir}/sandboxes/first/workspace/mine.txt; grep -r s3cr3t {host_dir}")
    assert SECRET not in result.output
    assert result.exit_code != 0


async def test_bwrap_layout(tmp_path: Path) -> None:
    (tmp_path / "host-file").write_text("host")
    sb = await make_provider(tmp_path, "bwrap").create(SandboxSpec(session_id="s1"))
    assert sb.workdir == "/workspace"
    result = await sb.exec(
        f'echo "$HOME $TMPDIR"; touch /tmp/mine; test -e {tmp_path}/host-file || echo no-host-tmp; '
        "touch /usr/x 2>/dev/null || echo ro-usr; ls -A /home; test -e /root || echo no-root"
    )
    assert result.output == "/home/agent /tmp\nno-host-tmp\nro-usr\nagent\nno-root\n"
    assert (tmp_path / "sandboxes" / "s1" / "tmp" / "mine").exists()


@pytest.mark.parametrize("mode", ["open", "allowlist", "blocked"])
async def test_only_the_sandboxs_own_loopback_whatever_the_policy(tmp_path: Path, mode: str) -> None:
    spec = SandboxSpec(session_id="s1", network=NetworkPolicy(mode=mode))
    sb = await make_provider(tmp_path, "bwrap").create(spec)
    result = await sb.exec("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort; readlink /proc/self/ns/net")
    *interfaces, namespace = result.output.split()
    assert interfaces == ["lo"]
    assert namespace != os.readlink("/proc/self/ns/net")
    # one namespace per sandbox, not per command
    assert (await sb.exec("readlink /proc/self/ns/net")).output.strip() == namespace


async def test_timeout_kills_the_whole_tree(sandbox: LocalSandbox) -> None:
    marker = unique_sleep()
    result = await sandbox.exec(f"echo started; sleep {marker} & sleep {marker}; wait", timeout_s=1)
    assert result.timed_out
    assert result.exit_code is None
    assert result.output.startswith("started\n")
    assert "killed after 1 s" in result.output
    assert result.duration_ms < 10_000
    assert await survivors(marker) == []


async def test_background_processes_do_not_outlive_the_command(sandbox: LocalSandbox) -> None:
    marker = unique_sleep()
    result = await sandbox.exec(f"sleep {marker} & echo started", timeout_s=30)
    assert (result.exit_code, result.output, result.timed_out) == (0, "started\n", False)
    assert result.duration_ms < 10_000
    assert await survivors(marker) == []


async def test_a_process_escaping_the_group_does_not_hang_exec(
    sandbox: LocalSandbox, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_process, "_DRAIN_GRACE_S", 0.3)
    marker = unique_sleep()
    # setsid leaves the process group but keeps the output pipe open (the pause lets it get that far).
    result = await sandbox.exec(f"setsid sleep {marker} & sleep 0.5; echo started", timeout_s=30)
    assert result.exit_code == 0
    assert result.duration_ms < 10_000
    left = await survivors(marker)
    if isolation == "none":
        # Known limit without bwrap: such a process outlives the command; we only stop waiting for it.
        assert result.output.startswith("started\n")
        assert "kept the output open" in result.output
        assert left
    else:
        # bwrap's pid namespace dies with the command, taking it along.
        assert result.output == "started\n"
        assert left == []


async def test_cancellation_kills_the_process(sandbox: LocalSandbox) -> None:
    marker = unique_sleep()
    task = asyncio.create_task(sandbox.exec(f"sleep {marker} & sleep {marker}; wait", timeout_s=60))
    await sleeps_running(marker, 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await survivors(marker) == []


async def test_output_is_capped_head_and_tail(sandbox: LocalSandbox) -> None:
    result = await sandbox.exec("yes | head -c 5000000", output_limit_bytes=64_000)
    assert result.exit_code == 0
    assert result.truncated
    assert result.output_bytes == 5_000_000
    marker = "\n[... 4936000 bytes cut: output exceeded the 64000-byte limit ...]\n"
    assert result.output == "y\n" * 16_000 + marker + "y\n" * 16_000


async def test_endless_output_is_killed(tmp_path: Path, isolation: str) -> None:
    sb = await make_provider(tmp_path, isolation, kill_after_output_bytes=1_000_000).create(
        SandboxSpec(session_id="s1")
    )
    result = await sb.exec("yes", timeout_s=60, output_limit_bytes=1000)
    assert result.exit_code is None
    assert not result.timed_out
    assert result.truncated
    # Past the limit, then killed: how far past depends on pipe buffers and scheduling, but `yes` left running to
    # its 60 s timeout would print gigabytes.
    assert 1_000_000 < result.output_bytes < 100_000_000
    assert result.output.endswith("y\n\n[killed: the command printed more than 1000000 bytes]\n")


async def test_on_output_streams_chunks(sandbox: LocalSandbox) -> None:
    chunks: list[str] = []

    async def collect(text: str) -> None:
        chunks.append(text)

    # é split across two writes: the stream must not mangle it.
    command = "echo one; sleep 0.3; printf 'two \\303'; sleep 0.3; printf '\\251\\n'"
    result = await sandbox.exec(command, on_output=collect)
    assert result.output == "one\ntwo é\n"
    assert "".join(chunks) == result.output
    assert len(chunks) >= 2  # arrived as printed, not all at the end


async def test_failing_on_output_stops_the_command(sandbox: LocalSandbox) -> None:
    marker = unique_sleep()

    async def explode(text: str) -> None:
        raise RuntimeError("listener broke")

    with pytest.raises(RuntimeError, match="listener broke"):
        await sandbox.exec(f"echo hi; sleep {marker}", on_output=explode, timeout_s=60)
    assert await survivors(marker) == []


# --- files ---


async def test_file_roundtrip(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("src/pkg/a.txt", b"hello\n")
    assert await sandbox.read_file("src/pkg/a.txt") == b"hello\n"
    assert await sandbox.read_file(f"{sandbox.workdir}/src/pkg/a.txt") == b"hello\n"
    assert (await sandbox.exec("cat src/pkg/a.txt")).output == "hello\n"
    await sandbox.exec("printf changed > src/pkg/a.txt")
    assert await sandbox.read_file("src/pkg/a.txt") == b"changed"


async def test_home_and_tmp_are_reachable(sandbox: LocalSandbox) -> None:
    home, tmp = (await sandbox.exec('printf "%s %s" "$HOME" "$TMPDIR"')).output.split()
    await sandbox.write_file(f"{home}/.config/tool.toml", b"x = 1\n")
    await sandbox.exec(f"echo scratch > {tmp}/t")
    assert (await sandbox.exec("cat ~/.config/tool.toml")).output == "x = 1\n"
    assert await sandbox.read_file(f"{tmp}/t") == b"scratch\n"


async def test_binary_file(sandbox: LocalSandbox) -> None:
    data = bytes(range(256)) * 100
    await sandbox.write_file("blob.bin", data)
    assert await sandbox.read_file("blob.bin") == data
    assert (await sandbox.exec("wc -c < blob.bin")).output.strip() == "25600"


async def test_symlink_escapes_are_refused(sandbox: LocalSandbox) -> None:
    before = Path("/etc/passwd").read_bytes()
    await sandbox.exec("ln -s /etc/passwd passwd; ln -s / hostroot; ln -s ../spec.json spec")
    for path in ("passwd", "hostroot/etc/passwd", "spec"):
        with pytest.raises(SandboxPathError):
            await sandbox.read_file(path)
    with pytest.raises(SandboxPathError):
        await sandbox.write_file("passwd", b"pwned")
    assert Path("/etc/passwd").read_bytes() == before


async def test_paths_outside_are_refused(sandbox: LocalSandbox) -> None:
    for path in ("../../../etc/passwd", "/etc/passwd", "../spec.json", f"{sandbox.workdir}/../spec.json"):
        with pytest.raises(SandboxPathError):
            await sandbox.read_file(path)
    with pytest.raises(SandboxPathError):
        await sandbox.write_file("../escaped.txt", b"x")


async def test_read_errors(sandbox: LocalSandbox) -> None:
    with pytest.raises(SandboxError, match="no such file"):
        await sandbox.read_file("missing.txt")
    await sandbox.exec("mkdir adir; mkfifo fifo")
    with pytest.raises(SandboxError, match="is a directory"):
        await sandbox.read_file("adir")
    with pytest.raises(SandboxError, match="not a regular file"):
        await sandbox.read_file("fifo")
    with pytest.raises(SandboxError, match="is a directory"):
        await sandbox.write_file("adir", b"x")


async def test_read_size_limit(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("big.txt", b"x" * 1000)
    with pytest.raises(SandboxError, match="1000 bytes, over the 999-byte"):
        await sandbox.read_file("big.txt", limit_bytes=999)
    assert len(await sandbox.read_file("big.txt", limit_bytes=1000)) == 1000


# --- provider and lifecycle ---


async def test_none_isolation_uses_host_paths(tmp_path: Path) -> None:
    sb = await make_provider(tmp_path, "none").create(SandboxSpec(session_id="s1"))
    host_workspace = os.path.realpath(tmp_path / "sandboxes" / "s1" / "workspace")
    assert sb.workdir == host_workspace
    assert (await sb.exec("pwd")).output == f"{host_workspace}\n"


async def test_attach(tmp_path: Path, isolation: str) -> None:
    provider = make_provider(tmp_path, isolation)
    assert await provider.attach("unknown") is None
    created = await provider.create(SandboxSpec(session_id="s1", env={"TOKEN": "scoped"}))
    await created.write_file("kept.txt", b"kept")
    # A restarted worker has only the session id.
    attached = await make_provider(tmp_path, isolation).attach("s1")
    assert attached is not None
    assert (attached.id, attached.workdir) == ("s1", created.workdir)
    assert await attached.read_file("kept.txt") == b"kept"
    assert (await attached.exec("echo $TOKEN")).output == "scoped\n"


async def test_create_again_reuses_the_sandbox(tmp_path: Path, isolation: str) -> None:
    provider = make_provider(tmp_path, isolation)
    await (await provider.create(SandboxSpec(session_id="s1"))).write_file("kept.txt", b"kept")
    again = await provider.create(SandboxSpec(session_id="s1"))
    assert await again.read_file("kept.txt") == b"kept"


async def test_terminate(tmp_path: Path, isolation: str) -> None:
    provider = make_provider(tmp_path, isolation)
    sb = await provider.create(SandboxSpec(session_id="s1"))
    await sb.exec("mkdir -p ro/inner && touch ro/inner/f && chmod -R a-w ro")
    marker = unique_sleep()
    running = asyncio.create_task(sb.exec(f"sleep {marker}", timeout_s=60))
    await sleeps_running(marker, 1)
    await sb.terminate()
    result = await running
    assert result.exit_code is None
    assert "sandbox was terminated" in result.output
    assert await survivors(marker) == []
    assert not (tmp_path / "sandboxes" / "s1").exists()
    assert await provider.attach("s1") is None
    with pytest.raises(SandboxError, match="gone"):
        await sb.exec("true")
    await sb.terminate()  # a second time is harmless


async def test_bad_session_ids_are_refused(tmp_path: Path) -> None:
    provider = make_provider(tmp_path, "none")
    for session_id in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(SandboxError, match="session id"):
            await provider.create(SandboxSpec(session_id=session_id))


def test_bwrap_required_but_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="bwrap"):
        make_provider(tmp_path, "bwrap")


def test_registry_finds_the_provider() -> None:
    assert provider_class("local") is LocalSandboxProvider


_ORPHAN_SCRIPT = """
import asyncio, sys
from pathlib import Path
from harness.sandboxes._process import CommandRun
run = CommandRun(["sleep", sys.argv[1]], env={"PATH": "/usr/bin:/bin"}, cwd=Path("/"), timeout_s=120,
                 output_limit_bytes=1000, kill_after_output_bytes=10_000, on_output=None)
asyncio.run(run.execute())
"""


def test_a_command_dies_with_its_worker(tmp_path: Path) -> None:
    # Not left to bwrap's --die-with-parent alone, which bwrap sets after exec: a worker killed in between would
    # leave the command running. Here without bwrap at all, so only our own pdeathsig can stop it.
    naptime = f"47.{uuid.uuid4().int % 10**6:06d}"
    worker = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, naptime], cwd=Path(__file__).parents[2])
    try:
        for _ in range(200):
            if subprocess.run(["pgrep", "-f", f"sleep {naptime}"], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the command never started")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        for _ in range(100):
            if subprocess.run(["pgrep", "-f", f"sleep {naptime}"], capture_output=True).returncode == 1:
                return
            time.sleep(0.05)
        raise AssertionError("the command outlived its killed worker")
    finally:
        worker.kill()
        subprocess.run(["pkill", "-f", f"sleep {naptime}"])


def test_a_worker_already_gone_starts_nothing() -> None:
    # The other half of the race: the worker died between fork and exec, so the command must not run at all.
    not_my_parent = os.getppid()  # any live pid other than the forking process
    done = subprocess.run(["true"], preexec_fn=functools.partial(_dies_with, not_my_parent))
    assert done.returncode == 1


async def test_attaching_stops_what_a_dead_worker_left_running(tmp_path: Path, isolation: str) -> None:
    # A command the previous worker started and could not stop (it was killed before bwrap's die-with-parent took
    # hold): simulated by a detached process of the sandbox's own kind, then the next worker attaches.
    provider = make_provider(tmp_path, isolation)
    sb = await provider.create(SandboxSpec(session_id="s1"))
    naptime = f"53.{uuid.uuid4().int % 10**6:06d}"
    argv = sb._argv(f"sleep {naptime}", sb._command_env({}, {}), sb.workdir)  # exactly what exec would start
    orphan = subprocess.Popen(argv, cwd=tmp_path / "sandboxes" / "s1" / "workspace", start_new_session=True)
    try:
        for _ in range(100):
            if subprocess.run(["pgrep", "-f", f"sleep {naptime}"], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        attached = await provider.attach("s1")
        assert attached is not None
        assert orphan.wait(10) == -signal.SIGKILL
        assert subprocess.run(["pgrep", "-f", f"sleep {naptime}"], capture_output=True).returncode == 1
        assert (await attached.exec("echo still usable")).output == "still usable\n"
    finally:
        orphan.kill()


def test_an_unknown_setting_is_refused(tmp_path: Path) -> None:
    # hidden_paths was removed with the allow-list root: a config still naming it must not pass as if it worked.
    with pytest.raises(ValidationError, match="hidden_paths"):
        LocalSandboxConfig.model_validate({"root_dir": tmp_path, "hidden_paths": [tmp_path]})


def test_a_host_symlink_out_of_the_sandbox_is_bound_as_its_target(host_dir: Path) -> None:
    # systemd-resolved's /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf: /run is not in the sandbox, so a
    # copied symlink would dangle; a link into /usr (/bin -> usr/bin) stays a link.
    (host_dir / "stub-resolv.conf").write_text("nameserver 127.0.0.53\n")
    (host_dir / "resolv.conf").symlink_to(host_dir / "stub-resolv.conf")
    (host_dir / "bin").symlink_to("/usr/bin")
    places = _rootfs._Places()
    places.same_place(str(host_dir / "resolv.conf"))
    places.same_place(str(host_dir / "bin"))
    binds = [places.args[i : i + 3] for i, arg in enumerate(places.args) if arg in ("--ro-bind", "--symlink")]
    assert binds == [
        ["--ro-bind", str(host_dir / "stub-resolv.conf"), str(host_dir / "resolv.conf")],
        ["--symlink", "/usr/bin", str(host_dir / "bin")],
    ]
