"""The worker side of test_sandbox_network_probes, run INSIDE the test's network namespace (`ip netns exec`).

The namespace holds private and link-local addresses with a listener behind each (started here, counting every
connection). A local sandbox is made here, so its egress proxy dials from this namespace too: a broken isolation
would connect to these listeners and could never leave the machine. Prints one JSON object: what each probe
printed, and how many connections each listener saw (the worker's own check connection included).

Usage: python sandbox_network_worker.py ROOT_DIR HOST:PORT...
"""

import asyncio
import json
import socket
import sys
import threading
from pathlib import Path

from harness.sandboxes.base import NetworkPolicy, SandboxSpec
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider


class Listener:
    def __init__(self, host: str, port: int) -> None:
        self.connections = 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=family)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            self.connections += 1
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nreached")
            conn.close()


def probe(host: str, port: int) -> str:
    """Direct TCP, then http and https through the proxy: a CONNECTED marker for anything that got through."""
    url_host = f"[{host}]" if ":" in host else host
    proxied = "curl -sS -m 5 --noproxy '' -x \"$HTTP_PROXY\" -o /tmp/answer -w '%{http_code}\\n'"
    return (
        f"timeout 5 bash -c 'exec 3<>/dev/tcp/{host}/{port}' && echo DIRECT-CONNECTED; "
        f"{proxied} http://{url_host}:{port}/; cat /tmp/answer; grep -q reached /tmp/answer && echo PROXY-CONNECTED; "
        f"{proxied} https://{url_host}:{port}/ && echo TUNNEL-CONNECTED; true"
    )


async def main(root: Path, targets: list[tuple[str, int]]) -> dict[str, object]:
    listeners = {f"{h}:{p}": Listener(h, p) for h, p in targets}
    for host, port in targets:  # the listeners answer from this namespace: what a broken sandbox would reach
        with socket.create_connection((host, port), timeout=5):
            pass
    provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=root, isolation="bwrap"))
    outputs: dict[str, str] = {}
    try:
        for mode in ("open", "allowlist", "blocked"):
            policy = NetworkPolicy(mode=mode, domains=["pypi.org"] if mode == "allowlist" else [])
            sandbox = await provider.create(SandboxSpec(session_id=f"probe-{mode}", network=policy))
            for host, port in targets:
                result = await sandbox.exec(probe(host, port), timeout_s=60)
                outputs[f"{mode} {host}:{port}"] = result.output
            await sandbox.terminate()
    finally:
        await provider.close()
    return {"outputs": outputs, "connections": {name: lst.connections for name, lst in listeners.items()}}


if __name__ == "__main__":
    parsed = [(t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in sys.argv[2:]]
    print(json.dumps(asyncio.run(main(Path(sys.argv[1]), parsed))))
