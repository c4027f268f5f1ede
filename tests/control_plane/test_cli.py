"""The `nightshift` command as a user runs it: a subprocess, the embedded Redis, the scripted stand-in."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import free_port, sh, wait_until_up
from spine import SECRET, marker

from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use

CLI = str(Path(sys.executable).parent / "nightshift")


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "NIGHTSHIFT_DATA_DIR": str(tmp_path / "d"), **extra}


def nightshift(*args: str, env: dict[str, str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
    )


def test_run_on_the_embedded_default(tmp_path: Path, standin: AnthropicStandIn, remote: Path) -> None:
    tag = marker()
    standin.register(
        Script(
            [
                Reply(tool_use("edit_file", {"path": "calc.py", "old_text": "a - b", "new_text": "a + b"})),
                Reply(tool_use("finish", {"summary": "fixed add"})),
            ],
            key=tag,
        )
    )
    env = env_for(tmp_path, ANTHROPIC_API_KEY=SECRET, ANTHROPIC_BASE_URL=standin.base_url)
    done = nightshift("run", "--repo", str(remote), f"{tag} fix add", env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "step 1" in out and "→ edit_file calc.py" in out and "status    finished" in out
    branch = next(line.split()[1] for line in out.splitlines() if line.startswith("branch"))
    assert "a + b" in sh("git", "--git-dir", str(remote), "show", f"{branch}:calc.py")
    assert (tmp_path / "d" / "redis" / "appendonlydir").is_dir()  # the embedded Redis keeps an append-only file
    # the embedded Redis was stopped on exit and comes back with the session for the next command
    listed = nightshift("sessions", env=env)
    assert listed.returncode == 0 and "finished" in listed.stdout
    session_id = out.split()[1]
    logs = nightshift("logs", session_id, env=env)
    assert "run finished: fixed add" in logs.stdout


@pytest.mark.parametrize(
    ("args", "extra", "says"),
    [
        (["run", "--repo", "/no/such/repo", "x"], {"ANTHROPIC_API_KEY": SECRET}, "cannot reach repository"),
        (["run", "--repo", "REMOTE", "x"], {}, "ANTHROPIC_API_KEY is not set"),
        (["run", "--repo", "REMOTE", "--base", "nope", "x"], {"ANTHROPIC_API_KEY": SECRET}, "is not a branch or tag"),
        (["logs", "nope"], {}, "no session 'nope'"),
    ],
)
def test_cli_errors_are_one_clear_line(
    tmp_path: Path, remote: Path, args: list[str], extra: dict[str, str], says: str
) -> None:
    done = nightshift(*[str(remote) if a == "REMOTE" else a for a in args], env=env_for(tmp_path, **extra))
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    listed = nightshift("sessions", env=env_for(tmp_path))
    assert listed.stdout.count("\n") <= 1  # header only: nothing was created


def test_huge_prompt_from_stdin_is_refused(tmp_path: Path, remote: Path) -> None:
    env = env_for(tmp_path, ANTHROPIC_API_KEY=SECRET)
    done = subprocess.run(
        [CLI, "run", "--repo", str(remote), "-"],
        env=env,
        input="x" * 3_000_000,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "the prompt is 3,000,000 bytes; the limit is 200,000" in done.stderr


def test_serve_streams_a_session_live_and_resumes_from_last_event_id(
    tmp_path: Path, standin: AnthropicStandIn, remote: Path, redis_url: str
) -> None:
    tag, port, token = marker(), free_port(), "serve-token-0123456789"
    standin.register(
        Script(
            [Reply(tool_use("shell", {"command": "echo hi"})), Reply(tool_use("finish", {"summary": "said hi"}))],
            key=tag,
        )
    )
    env = env_for(
        tmp_path,
        ANTHROPIC_API_KEY=SECRET,
        ANTHROPIC_BASE_URL=standin.base_url,
        REDIS_URL=redis_url,
        NIGHTSHIFT_API_TOKEN=token,
    )
    server = subprocess.Popen(
        [CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        wait_until_up(base)
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            created = client.post("/api/sessions", json={"repo": str(remote), "prompt": f"{tag} say hi"})
            assert created.status_code == 201, created.text
            sid = created.json()["id"]
            streamed = read_stream(client, sid, {})
            kinds = [kind for _, kind, _ in streamed]
            assert kinds[0] == "session_created" and "tool_result" in kinds
            assert streamed[-1][1:] == ("status_changed", "finished")
            resumed = read_stream(client, sid, {"Last-Event-ID": streamed[2][0]})
            assert [e[0] for e in resumed] == [e[0] for e in streamed[3:]]  # no gap, no repeat
    finally:
        server.terminate()
        server.wait(30)
    assert server.returncode == 0


def read_stream(client: httpx.Client, sid: str, headers: dict[str, str]) -> list[tuple[str, str, str]]:
    """(id, kind, status) per event until the session finishes."""
    events: list[tuple[str, str, str]] = []
    with client.stream("GET", f"/api/sessions/{sid}/stream", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line:
                key, _, value = line.partition(": ")
                fields[key] = value
                continue
            if "id" in fields:
                status = json.loads(fields["data"]).get("status", "")
                events.append((fields["id"], fields["event"], status))
                if status == "finished":
                    return events
            fields = {}
    return events


def test_demo_runs_a_real_session_with_a_labelled_script(tmp_path: Path) -> None:
    done = nightshift("demo", env=env_for(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "scripted demo" in done.stderr and "not a real model" in done.stderr
    assert "status    finished" in done.stdout
    assert "return a + b" in done.stdout.split("calc.py on")[1]
