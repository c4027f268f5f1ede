"""`nightshift serve` as real processes (`python -m control_plane.cli serve`), several on one Redis and one data dir,
configured through the data dir's config.toml, as a deployment behind a load balancer would run them."""

import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
from conftest import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_config(data_dir: Path, toml: str) -> None:
    tomllib.loads(toml)  # a broken file should fail here, not as a process that never answers
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "config.toml").write_text(toml)


class ApiProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "control_plane.cli", "serve", "--port", str(self.port), "--workers", "1"]
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(REPO_ROOT), **env}
        with log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(command, env=env, stdout=out, stderr=out, cwd=REPO_ROOT)

    def wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.proc.poll() is None, f"serve on port {self.port} exited with {self.proc.returncode}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            assert time.monotonic() < deadline, f"serve on port {self.port} did not answer"
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
