"""The Nightshift control plane itself on Modal: the API as a web server, workers as long-running functions.

    modal secret create nightshift --from-dotenv deploy/nightshift.env   # REDIS_URL (managed), ANTHROPIC_API_KEY...
    modal deploy deploy/modal_app.py

Sessions run in Modal sandboxes (NIGHTSHIFT_SANDBOX=modal); inside Modal the client is already authenticated, so
no Modal token goes in the secret. Redis must be reachable from Modal: a managed Redis/Valkey with TLS (rediss://).
"""

import subprocess
from pathlib import Path

import modal

ROOT = Path(__file__).resolve().parent.parent
WORKER_RUN_S = 6 * 3600
"""Each worker run lasts this long, then hands its sessions back (SIGTERM) and the next scheduled run takes over."""

app = modal.App("nightshift-control-plane")
image = modal.Image.from_dockerfile(ROOT / "Dockerfile", context_dir=ROOT)
secrets = [modal.Secret.from_name("nightshift", required_keys=["REDIS_URL", "ANTHROPIC_API_KEY"])]
env = {"NIGHTSHIFT_SANDBOX": "modal", "NIGHTSHIFT_DATA_DIR": "/tmp/nightshift"}  # mirrors are a cache: ephemeral


@app.function(image=image, secrets=secrets, env=env, min_containers=1, timeout=24 * 3600)
@modal.web_server(8000, startup_timeout=120)
def api() -> None:
    """Serves the API, the web UI and the webhooks; stateless, so Modal may run several."""
    subprocess.Popen(["nightshift", "serve", "--api-only", "--host", "0.0.0.0", "--port", "8000"])


@app.function(
    image=image,
    secrets=secrets,
    env=env,
    schedule=modal.Period(seconds=WORKER_RUN_S - 600),  # overlapping runs: never a gap without a worker
    timeout=WORKER_RUN_S + 300,
)
def worker() -> None:
    """One `nightshift worker`; stopped gracefully before the function's timeout so nothing is cut mid-step."""
    proc = subprocess.Popen(["nightshift", "worker"])
    try:
        proc.wait(timeout=WORKER_RUN_S)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: finish the step, checkpoint, hand sessions back
        proc.wait(timeout=240)
