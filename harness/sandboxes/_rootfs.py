"""The root file system a bwrap sandbox sees: an allow-list of what toolchains need, nothing of the host's state.

    /usr, and /bin /lib /lib64 /sbin ... as the host has them (symlinks into /usr, or directories): read-only
    /etc      a few host files toolchains read (certificates, alternatives, the linker cache, the resolver),
              and files written for the sandbox: passwd/group naming its user, hosts, nsswitch.conf
    /dev /proc /tmp   fresh (/tmp is the session's tmp dir)
    extra paths       what the operator added (toolchains under /opt): read-only, at the same place

Not there: /root, /home (but the sandbox's own /home/agent), /var, /srv, /opt, /run, /mnt, /media, /sys, the host's
/etc, the data dir. Nothing is hidden by covering it: what is not listed here was never mounted.
"""

import os
from collections.abc import Iterable
from pathlib import Path

from harness.errors import ConfigError

_SYSTEM = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
_HOST_ETC = (
    "alternatives",  # Debian's /usr/bin/awk, editor, java ... point into it
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "fonts",  # fontconfig: headless browsers in a repo's tests
    "ld.so.cache",
    "localtime",
    "mime.types",
    "os-release",
    "perl",  # Debian's perl configuration (git add -p, ...)
    "protocols",
    "python3",
    "python3.11",
    "python3.12",
    "python3.13",
    "resolv.conf",
    "services",
    "ssl/certs",
    "ssl/openssl.cnf",  # not /etc/ssl/private: host keys
    "timezone",
)
"""Read from the host at each command, so package upgrades (new certificates) show up. No pip.conf, npmrc or gitconfig:
those may hold the host's registry or git credentials."""
ETC_DIR = "etc"
"""Under the session's directory: the /etc files written for the sandbox."""
HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\nprotocols: files\nservices: files\n"
"""Files only: the host's may name modules (systemd, sss, mdns) whose sockets and state are not in the sandbox."""


def write_etc(etc: Path, uid: int, gid: int, home: str) -> None:
    """The /etc files made for one session: the sandbox user is `agent`, with the session's uid and gid."""
    etc.mkdir(mode=0o755, exist_ok=True)
    files = {
        "passwd": (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"agent:x:{uid}:{gid}:Nightshift sandbox:{home}:/bin/bash\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "group": f"root:x:0:\nagent:x:{gid}:\nnogroup:x:65534:\n",
        "hosts": HOSTS,
        "hostname": "sandbox\n",
        "nsswitch.conf": NSSWITCH,
    }
    for name, text in files.items():
        (etc / name).write_text(text)


def root_binds(etc: Path, extra_paths: Iterable[Path], home: str) -> list[str]:
    """bwrap arguments building the root: system dirs, /etc, extra paths, and the directory above home. Mounts for
    /dev, /proc, /tmp and the session's dirs are added by the caller."""
    places = _Places()
    for name in _SYSTEM:
        places.same_place("/" + name)
    for name in _HOST_ETC:
        places.same_place("/etc/" + name)
    for made in sorted(os.listdir(etc)):
        places.add("/etc/" + made, "--ro-bind", str(etc / made))
    for path in extra_paths:
        places.add(str(path), "--ro-bind", os.path.realpath(path))
    places.dir(home)
    return places.args


class _Places:
    """bwrap arguments for mounts and links, each place's missing parents made first as plain 0755 directories:
    bwrap would make them 0700 and root's, which the sandbox user could not traverse (/home for /home/agent)."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self._made = {"/"}

    def same_place(self, path: str) -> None:
        """A host path at the same place, read-only. A symlink into /usr stays a symlink (/bin -> usr/bin,
        /etc/localtime); one to elsewhere (resolv.conf -> /run/systemd/resolve/...) becomes what it points to, as
        the target's directory is not in the sandbox."""
        real = os.path.realpath(path)
        if os.path.islink(path) and real.startswith("/usr/"):
            self.add(path, "--symlink", os.readlink(path))
        elif os.path.exists(real):
            self.add(path, "--ro-bind", real)

    def add(self, dest: str, how: str, source: str) -> None:
        self._parents(dest)
        self.args += [how, source, dest]
        self._made.add(dest)

    def dir(self, path: str) -> None:
        self._parents(path)
        self.args += ["--perms", "0755", "--dir", path]
        self._made.add(path)

    def _parents(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent not in self._made:
            self.dir(parent)


def check_extra_paths(paths: Iterable[Path], private: Iterable[Path]) -> None:
    """Refuses an extra read-only path that is not absolute, is missing, or would show a private path or lie in one."""
    private_real = [os.path.realpath(p) for p in private]
    for path in paths:
        if not path.is_absolute():
            raise ConfigError(f"sandbox read-only path {path} is not absolute")
        if not path.exists():
            raise ConfigError(f"sandbox read-only path {path} does not exist")
        real = os.path.realpath(path)
        for secret in private_real:
            if _overlaps(real, secret):
                raise ConfigError(f"sandbox read-only path {path} would show {secret} to sandboxed commands")


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")
