"""The `local` provider: one directory per session on this host, commands isolated with bubblewrap when available.

    <root_dir>/<session_id>/          0700, the worker's
        spec.json    the SandboxSpec, so attach() after a worker restart gets the session's env back
        uid          the host uid the session's commands run as (worker running as root only)
        etc/         passwd, group, hosts ... written for the sandbox's /etc
        workspace/   the repo: /workspace inside bwrap        \
        home/        HOME: /home/agent inside bwrap             } owned by the session's uid
        tmp/         TMPDIR: /tmp inside bwrap                 /

With bwrap a command sees a minimal root (_rootfs.py), runs as an unprivileged uid with no capabilities and
no_new_privs (_sandbox_user.py), and the session's directory has a disk quota (_disk_quota.py).

Network: with bwrap every sandbox has a network namespace of its own with only `lo` in it (_local_network), so a
command reaches neither the host's loopback (Redis, the API) nor the LAN nor metadata addresses; the way out is the
egress proxy the worker runs for the sandbox, which applies the repository's NetworkPolicy. That needs root (a
worker without CAP_SYS_ADMIN gets a ConfigError, never the host's network).

Without bwrap (isolation "none") commands run as this user, see the host paths above and share the host's network:
the environment built from scratch is then the only protection, and a command can read and reach whatever the
control plane's user can.
"""

import asyncio
import contextlib
import logging
import os
import posixpath
import re
import shutil
import signal
import stat
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import ConfigError, SandboxError, SandboxPathError
from harness.sandboxes import _local_snapshots, _rootfs, _sandbox_user
from harness.sandboxes._disk_quota import DiskQuota
from harness.sandboxes._local_network import HostLoopback, NetworkRegistry
from harness.sandboxes._pids_cgroup import PidsCgroup
from harness.sandboxes._process import CommandRun
from harness.sandboxes.base import ExecResult, OutputCallback, SandboxLoopback, SandboxSpec
from harness.sandboxes.egress_proxy import ProxyLimits

log = logging.getLogger(__name__)

_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SPEC_FILE = "spec.json"
_SHM_BYTES = 512 * 1024**2


class LocalSandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a setting that no longer exists (hidden_paths) must not pass silently

    root_dir: Path
    """Where sandboxes live: one directory per session."""
    isolation: Literal["auto", "bwrap", "none"] = "auto"
    """auto: bwrap when it is on PATH (a warning is logged when it is not). none: only the environment is isolated."""
    read_only_paths: list[Path] = Field(default_factory=list)
    """Host paths added, read-only at the same place, to the minimal root commands see (a toolchain under /opt). This
    widens what a sandboxed command can read: never a path holding secrets. bwrap only."""
    private_paths: list[Path] = Field(default_factory=list)
    """Host paths read_only_paths may not show or lie in (the data dir, the config file); root_dir always is one."""
    kill_after_output_bytes: int = Field(default=50_000_000, gt=0)
    """A command that prints more than this in total is killed."""
    proxy_port: int = Field(default=3128, gt=0, lt=65536)
    """Where the egress proxy listens on each sandbox's own loopback (HTTP_PROXY=http://127.0.0.1:<port>)."""
    egress_idle_timeout_s: float = Field(default=300.0, gt=0)
    """A proxied connection with no traffic for this long is closed."""
    egress_max_connection_s: float = Field(default=3600.0, gt=0)
    """The longest one proxied connection may live (a large download included)."""
    network_idle_release_s: float = Field(default=900.0, gt=0)
    """A sandbox that ran no command for this long lets go of its network namespace (made again on its next
    command): a long-lived worker does not keep one per session it ever ran."""
    max_processes: int = Field(default=1024, gt=0)
    """Processes one command may have at once (RLIMIT_NPROC, counted per host uid: the session's own uid when the
    worker is root, the worker's uid otherwise). Without bwrap and as root, only pids_cgroup caps them."""
    max_file_bytes: int = Field(default=8 * 1024**3, gt=0)
    """Largest file a command may write (RLIMIT_FSIZE): a runaway writer gets SIGXFSZ, not the whole disk."""
    disk_quota_bytes: int = Field(default=10 * 1024**3, gt=0)
    """Disk space one session's workspace, home and tmp may use together; over it, the running command is killed and
    later ones cannot grow files until space is freed."""
    uid_first: int = Field(default=1_900_000_000, gt=0)
    """First host uid (and gid) given to sessions when the worker runs as root: each session gets one of its own.
    Above the ranges of /etc/subuid and systemd's containers; the uids need no passwd entry on the host."""
    uid_count: int = Field(default=65_536, gt=0)
    """How many uids from uid_first sessions may use: at most this many sessions exist at once on this host."""
    pids_cgroup: Path | None = None
    """A pids cgroup directory the control plane may create children in (cgroup v1 /sys/fs/cgroup/pids/<name>, or a
    delegated v2 subtree): each command then gets its own cgroup with pids.max = max_processes, root or not."""


@dataclass(frozen=True)
class _SessionDirs:
    root: Path

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def spec_file(self) -> Path:
        return self.root / _SPEC_FILE

    @property
    def etc(self) -> Path:
        return self.root / _rootfs.ETC_DIR


@dataclass(frozen=True)
class _View:
    """Where the session's directories appear to the commands running in it."""

    workdir: str
    home: str
    tmp: str


_BWRAP_VIEW = _View(workdir="/workspace", home="/home/agent", tmp="/tmp")


class LocalSandboxProvider:
    name = "local"
    runtime = "local-1"
    """Bump when the layout of a local snapshot changes: older snapshots are then refused and rebuilt. (Who owns the
    files is not part of it: a restore hands the copy to the new session's uid whatever uid it was taken from.)"""

    def __init__(self, config: LocalSandboxConfig) -> None:
        self._config = config
        self._root = Path(os.path.realpath(config.root_dir))
        self._bwrap = _find_bwrap(config.isolation)
        limits = ProxyLimits(
            idle_timeout_s=config.egress_idle_timeout_s, max_connection_s=config.egress_max_connection_s
        )
        self._networks = NetworkRegistry(config.proxy_port, limits, config.network_idle_release_s)
        """Every LocalSandbox object of a session shares its network."""
        _rootfs.check_extra_paths(config.read_only_paths, private=[self._root, *config.private_paths])
        # As root, each session runs as a uid of its own; otherwise bwrap's user namespace maps the worker's uid.
        self._uids = _sandbox_user.UidRange(config.uid_first, config.uid_count) if self._drops_to_uid() else None

    def _drops_to_uid(self) -> bool:
        return self._bwrap is not None and _sandbox_user.worker_is_root()

    async def create(self, spec: SandboxSpec) -> "LocalSandbox":
        dirs = self._dirs(spec.session_id)
        uid = await asyncio.to_thread(_prepare_session, self._root, dirs, spec, self._uids)
        return self._sandbox(spec, dirs, uid)

    async def attach(self, session_id: str) -> "LocalSandbox | None":
        dirs = self._dirs(session_id)
        spec = await asyncio.to_thread(_load_spec, dirs, session_id)
        if spec is None:
            return None
        # A worker that died (kill -9) just as it started a command may have left it running: bwrap sets its
        # die-with-parent after exec, too late when the worker was already gone. Whoever takes the session over
        # stops it before running anything, so no command of the old run goes on beside the new one.
        if killed := await asyncio.to_thread(_kill_leftovers, dirs.root):
            log.warning("sandbox %s: killed %d command(s) a previous worker left running", session_id, killed)
        uid = await asyncio.to_thread(_prepare_session, self._root, dirs, spec, self._uids)
        return self._sandbox(spec, dirs, uid)

    async def restore(self, spec: SandboxSpec, ref: str) -> "LocalSandbox":
        dirs = self._dirs(spec.session_id)
        await asyncio.to_thread(_local_snapshots.restore, self._root / _local_snapshots.DIR_NAME, ref, dirs.root)
        return await self.create(spec)  # create reuses the restored workspace and home

    async def close(self) -> None:
        await self._networks.close()

    async def delete_snapshot(self, ref: str) -> None:
        await asyncio.to_thread(_local_snapshots.delete, self._root / _local_snapshots.DIR_NAME, ref)

    async def sandbox_ids(self) -> list[str]:
        names = os.listdir(self._root) if self._root.is_dir() else []
        return sorted(n for n in names if _SESSION_ID.fullmatch(n) and (self._root / n).is_dir())

    def _sandbox(self, spec: SandboxSpec, dirs: _SessionDirs, uid: int | None) -> "LocalSandbox":
        networks = None if self._bwrap is None else self._networks
        return LocalSandbox(spec, dirs, self._config, self._bwrap, networks, uid)

    def _dirs(self, session_id: str) -> _SessionDirs:
        # The id becomes a directory name: anything but a plain name could point elsewhere ("..", "/").
        if not _SESSION_ID.fullmatch(session_id):
            raise SandboxError(f"session id {session_id!r} is not usable as a directory name")
        return _SessionDirs(self._root / session_id)


class LocalSandbox:
    def __init__(
        self,
        spec: SandboxSpec,
        dirs: _SessionDirs,
        config: LocalSandboxConfig,
        bwrap: str | None,
        networks: NetworkRegistry | None,
        uid: int | None,
    ) -> None:
        self.id = spec.session_id
        self._spec = spec
        self._dirs = dirs
        self._config = config
        self._bwrap = bwrap
        self._networks = networks
        """None without bwrap: commands then share the host's network."""
        self._uid = uid
        """The host uid commands drop to (worker running as root), None when they run as the worker's uid."""
        self._view = _BWRAP_VIEW if bwrap else _View(str(dirs.workspace), str(dirs.home), str(dirs.tmp))
        self.workdir = self._view.workdir
        self._runs: set[CommandRun] = set()
        self._quota = DiskQuota(dirs.root, config.disk_quota_bytes)

    async def exec(
        self,
        command: str,
        *,
        cwd: str | None = None,
        timeout_s: float = 120,
        output_limit_bytes: int = 64_000,
        env: Mapping[str, str] | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecResult:
        self._check_alive()
        sandbox_cwd, host_cwd = self._resolve_cwd(cwd)
        over_quota = await self._quota.over()
        # Held for the whole command: a network is never released while a command of its sandbox runs.
        using = contextlib.nullcontext(None) if self._networks is None else self._networks.using(self._spec)
        async with using as network:
            command_env = self._command_env(network.env() if network else {}, env or {})
            # Over the quota a command may still delete files, but cannot grow any (RLIMIT_FSIZE 0).
            argv = self._argv(command, command_env, sandbox_cwd, max_file_bytes=None if over_quota is None else 0)
            cgroup = None
            if self._config.pids_cgroup is not None:
                cgroup = PidsCgroup(self._config.pids_cgroup, self._config.max_processes)
                await asyncio.to_thread(cgroup.create)
                argv = cgroup.wrap(argv)
            run = CommandRun(
                argv,
                env=command_env,
                cwd=host_cwd,
                timeout_s=timeout_s,
                output_limit_bytes=output_limit_bytes,
                kill_after_output_bytes=self._config.kill_after_output_bytes,
                on_output=on_output,
                child_steps=[network.enter] if network else [],
            )
            self._runs.add(run)
            watch = asyncio.create_task(self._quota.watch(run))
            try:
                result = await run.execute()
            finally:
                watch.cancel()
                self._runs.discard(run)
                hit_process_limit = cgroup is not None and await _release(cgroup)
                self._quota.measure_soon()
        (watched,) = await asyncio.gather(watch, return_exceptions=True)
        if isinstance(watched, Exception):  # not CancelledError: the normal end of the watch
            raise SandboxError(f"measuring the sandbox's disk usage failed: {watched}") from watched
        if over_quota is not None:
            note = f"[{self._quota.message(over_quota)}: files cannot grow until you delete some (rm)]\n"
            result = result.model_copy(update={"output": note + result.output})
        if hit_process_limit:
            note = f"\n[the command reached the {self._config.max_processes}-process limit: forks were refused]\n"
            result = result.model_copy(update={"output": result.output + note})
        return result

    async def read_file(self, path: str, *, limit_bytes: int = 10_000_000) -> bytes:
        self._check_alive()
        return await asyncio.to_thread(_read_capped, self._host_path(path), path, limit_bytes)

    async def write_file(self, path: str, data: bytes) -> None:
        self._check_alive()
        await asyncio.to_thread(_write, self._host_path(path), path, data, self._uid)

    async def loopback(self) -> SandboxLoopback:
        return HostLoopback() if self._networks is None else await self._networks.get(self._spec)

    async def snapshot(self) -> str:
        self._check_alive()
        snapshots = self._dirs.root.parent / _local_snapshots.DIR_NAME
        return await asyncio.to_thread(_local_snapshots.take, self._dirs.root, snapshots)

    async def terminate(self) -> None:
        runs = list(self._runs)
        for run in runs:
            run.kill("the sandbox was terminated")
        for run in runs:
            await run.wait_stopped()
        if self._networks is not None:
            await self._networks.release(self.id)
        await self._quota.close()
        await asyncio.to_thread(_remove_tree, self._dirs.root)

    def _check_alive(self) -> None:
        if not self._dirs.root.is_dir():
            raise SandboxError(f"sandbox {self.id} is gone (terminated, or its directory was removed)")

    def _command_env(self, proxy: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
        # Built from scratch, never from os.environ: the control plane's environment holds its API keys.
        env = {
            "PATH": _DEFAULT_PATH,
            "HOME": self._view.home,
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "TMPDIR": self._view.tmp,
            "GIT_TERMINAL_PROMPT": "0",
            **proxy,
            **self._spec.env,
            **extra,
        }
        for name, value in env.items():
            if not name or "=" in name or "\0" in name or "\0" in value:
                raise SandboxError(f"invalid environment variable {name!r}")
        return env

    def _argv(self, command: str, env: Mapping[str, str], cwd: str, max_file_bytes: int | None = None) -> list[str]:
        fsize = self._config.max_file_bytes if max_file_bytes is None else max_file_bytes
        limits = [f"--nproc={self._config.max_processes}", f"--fsize={fsize}"]
        # -c, not -lc: no login profile deciding what the command sees
        shell = ["prlimit", *limits, "--", "bash", "-c", command]
        if self._bwrap is None:
            return shell
        drop = _sandbox_user.drop_argv(self._uid) if self._uid is not None else []
        bwrap = _bwrap_argv(self._bwrap, self._dirs, self._config.read_only_paths, env, cwd)
        return [*bwrap, *drop, *shell]

    def _resolve_cwd(self, cwd: str | None) -> tuple[str, Path]:
        sandbox_cwd = posixpath.normpath(posixpath.join(self.workdir, cwd or "."))
        host_cwd = self._host_path(sandbox_cwd)
        if not host_cwd.is_dir():
            raise SandboxError(f"cwd {cwd!r} is not a directory in the sandbox")
        return sandbox_cwd, host_cwd

    def _host_path(self, path: str) -> Path:
        """The host path behind a sandbox path; refuses anything that is, or resolves to, outside the sandbox."""
        absolute = posixpath.normpath(posixpath.join(self.workdir, path))
        mounts = [
            (self._view.workdir, self._dirs.workspace),
            (self._view.home, self._dirs.home),
            (self._view.tmp, self._dirs.tmp),
        ]
        for sandbox_dir, host_dir in mounts:
            if absolute == sandbox_dir or absolute.startswith(sandbox_dir + "/"):
                host = os.path.realpath(host_dir / posixpath.relpath(absolute, sandbox_dir))
                # realpath follows symlinks: a link in the workspace to /etc/passwd (or to spec.json) ends up here.
                if any(_is_within(host, os.path.realpath(d)) for _, d in mounts):
                    return Path(host)
                raise SandboxPathError(f"{path} resolves to a place outside the sandbox")
        allowed = ", ".join(sandbox_dir for sandbox_dir, _ in mounts)
        raise SandboxPathError(f"{path} is outside the sandbox (paths must be under {allowed})")


async def _release(cgroup: PidsCgroup) -> bool:
    """Remove the command's cgroup; whether the command ran into its process limit."""
    hit_limit = await asyncio.to_thread(cgroup.hit_limit)
    await cgroup.remove()
    return hit_limit


def _find_bwrap(isolation: Literal["auto", "bwrap", "none"]) -> str | None:
    if isolation == "none":
        log.warning("sandbox isolation 'none': commands see this host's files and network (its loopback included)")
        return None
    found = shutil.which("bwrap")
    if found is None and isolation == "bwrap":
        raise ConfigError("sandbox isolation is 'bwrap' but bwrap is not installed (package: bubblewrap)")
    if found is None:
        log.warning(
            "bwrap not found: sandbox commands run unisolated, with only a scrubbed environment: they see this "
            "host's files and network (its loopback included)"
        )
    return found


def _bwrap_argv(
    bwrap: str, dirs: _SessionDirs, read_only: Iterable[Path], env: Mapping[str, str], cwd: str
) -> list[str]:
    """bwrap up to (not including) the command: a minimal root read-only, the session's dirs writable, and fresh
    pid, ipc, uts and cgroup namespaces; a new pid namespace keeps the control plane's /proc/*/environ out. Not the
    network one: the command joined the sandbox's own before exec (SandboxNetwork.enter), and keeps it.
    No user namespace when bwrap runs as root: setpriv then drops to the session's real host uid, which a namespace
    mapping only uid 0 would not allow. As another user bwrap makes one itself."""
    return [
        bwrap,
        *_rootfs.root_binds(dirs.etc, read_only, os.path.dirname(_BWRAP_VIEW.home)),
        *("--dev", "/dev", "--proc", "/proc"),
        # Shared memory for the sandbox user (Python's multiprocessing, Chromium): RAM, so capped like the quota's tmp.
        *("--perms", "1777", "--size", str(_SHM_BYTES), "--tmpfs", "/dev/shm"),
        # /dev itself belongs to bwrap's user namespace when the worker is not root: no files there (RAM, unquota'd).
        *("--remount-ro", "/dev"),
        *("--bind", str(dirs.tmp), _BWRAP_VIEW.tmp),
        *("--bind", str(dirs.home), _BWRAP_VIEW.home),
        *("--bind", str(dirs.workspace), _BWRAP_VIEW.workdir),
        *("--remount-ro", "/"),
        *("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"),
        *("--hostname", "sandbox"),
        *("--die-with-parent", "--new-session", "--clearenv"),
        *[arg for name, value in env.items() for arg in ("--setenv", name, value)],
        *("--chdir", cwd, "--"),
    ]


def _is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _prepare_session(
    root_dir: Path, dirs: _SessionDirs, spec: SandboxSpec, uids: _sandbox_user.UidRange | None
) -> int | None:
    """Make (or reuse: exist_ok throughout) the session's dirs; returns the uid its commands drop to, if any."""
    dirs.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    uid = _sandbox_user.claim(root_dir, dirs.root, uids) if uids is not None else None
    for directory in (dirs.workspace, dirs.home, dirs.tmp):
        directory.mkdir(mode=0o700, exist_ok=True)
        if uid is not None:
            _sandbox_user.own(directory, uid)  # a restored snapshot comes with the uid of the session it was taken of
    _rootfs.write_etc(dirs.etc, os.getuid() if uid is None else uid, os.getgid() if uid is None else uid, "/home/agent")
    fd = os.open(dirs.spec_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(spec.model_dump_json())
    return uid


def _load_spec(dirs: _SessionDirs, session_id: str) -> SandboxSpec | None:
    if not dirs.root.is_dir():
        return None
    if not dirs.spec_file.is_file():
        return SandboxSpec(session_id=session_id)
    return SandboxSpec.model_validate_json(dirs.spec_file.read_text())


def _read_capped(host: Path, shown: str, limit_bytes: int) -> bytes:
    fd = _open(host, shown, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: a FIFO must not hang us (refused below)
    try:
        _check_readable(os.fstat(fd), shown, limit_bytes)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit_bytes + 1)
    if len(data) > limit_bytes:
        raise SandboxError(f"{shown} grew past the {limit_bytes}-byte read limit while being read")
    return data


def _check_readable(st: os.stat_result, shown: str, limit_bytes: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise SandboxError(f"{shown} is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise SandboxError(f"{shown} is not a regular file")
    if st.st_size > limit_bytes:
        raise SandboxError(f"{shown} is {st.st_size} bytes, over the {limit_bytes}-byte read limit")


def _write(host: Path, shown: str, data: bytes, uid: int | None) -> None:
    made = _make_parents(host.parent, shown)
    fd = _open(host, shown, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as f:
        if uid is not None:
            # The worker (root) writes it, the sandbox user must be able to change it: git's seed bundle, a tool's
            # file. fchown on the open file, so a symlink swapped in meanwhile changes nothing else.
            for directory in made:
                os.lchown(directory, uid, uid)
            os.fchown(f.fileno(), uid, uid)
        f.write(data)


def _make_parents(directory: Path, shown: str) -> list[Path]:
    """Create the missing directories up to `directory`; returns those made, outermost first."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    try:
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
    except OSError as e:
        raise SandboxError(f"cannot create the directory for {shown}: {e.strerror}") from e
    return list(reversed(missing))


def _open(host: Path, shown: str, flags: int) -> int:
    try:
        # O_NOFOLLOW: the path was resolved already; a symlink here now was swapped in since, by a command.
        return os.open(host, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileNotFoundError as e:
        raise SandboxError(f"no such file in the sandbox: {shown}") from e
    except IsADirectoryError as e:
        raise SandboxError(f"{shown} is a directory, not a file") from e
    except OSError as e:
        raise SandboxError(f"cannot open {shown}: {e.strerror}") from e


def _remove_tree(root: Path) -> None:
    if not root.exists():
        return  # terminated before
    if sys.version_info >= (3, 12):
        shutil.rmtree(root, onexc=_make_writable_and_retry)
    else:
        shutil.rmtree(root, onerror=_make_writable_and_retry)


def _make_writable_and_retry(func: Callable[[str], object], path: str, _error: object) -> None:
    # Tools leave read-only trees behind (Go's module cache under HOME): a non-root owner cannot delete entries
    # of a read-only directory, or list an unreadable one, until it is made accessible again.
    os.chmod(os.path.dirname(path), 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
    func(path)


def _kill_leftovers(root: Path) -> int:
    """SIGKILL every process (and its group) of the session's commands: bwrap names the session's directories in
    its arguments (its own working directory is already the sandbox's view); without bwrap a command runs in them.
    Returns how many were found."""
    inside = str(root) + os.sep
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue  # gone meanwhile, or not ours to look at
        if not any((path + os.sep).startswith(inside) for path in (cwd, *args)):
            continue
        try:
            group = os.getpgid(int(entry))
            if group == os.getpgrp():
                continue  # one of our own processes (a command runs in a group of its own)
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            continue  # it ended on its own meanwhile
        killed += 1
    return killed
