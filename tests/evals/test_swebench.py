"""`nightshift eval swebench` on two instances in the public dataset format, with the local sandbox and repositories
from a local mirror: one session fixes its issue, one gives up; the predictions file is read by `swebench` itself."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from spine import SECRET

from control_plane.cli import main
from evals.swebench import read_instances
from harness.errors import ConfigError
from harness.testing.anthropic_standin import AnthropicStandIn, Reply, Script, text, tool_use

FIXTURE = Path(__file__).parent.parent / "fixtures" / "evals" / "swebench"
INSTANCES = FIXTURE / "instances.jsonl"
PATCH = json.loads(INSTANCES.read_text().splitlines()[0])["patch"]
"""The dataset's own fix for acme__calc-1; the scripted session makes the same change."""
# Fixed identity and dates: the commits get the very ids the fixture's base_commit fields name.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "SWE",
    "GIT_AUTHOR_EMAIL": "swe@example.com",
    "GIT_COMMITTER_NAME": "SWE",
    "GIT_COMMITTER_EMAIL": "swe@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def mirror(root: Path) -> Path:
    """A folder laid out like a forge: owner/name.git, one bare repository per fixture repo."""
    for repo in ("acme/calc", "acme/strings"):
        src = root / "src" / repo
        src.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-r", str(FIXTURE / "repos" / repo), str(src)], check=True)
        env = {**os.environ, **GIT_ENV}
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
            subprocess.run(["git", *args], cwd=src, env=env, check=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(src), str(root / "mirror" / f"{repo}.git")], check=True)
    return root / "mirror"


def test_predictions_for_two_instances(redis_url: str, standin: AnthropicStandIn, tmp_path: Path) -> None:
    edit = tool_use("edit_file", {"path": "calc.py", "old_text": "a - b", "new_text": "a + b"})
    standin.register(
        Script([Reply(text("Fixing."), edit), Reply(tool_use("finish", {"summary": "fixed"}))], key="[swe:calc]")
    )
    standin.register(Script([Reply(tool_use("finish", {"summary": "no idea"}))], key="[swe:strings]"))
    out = tmp_path / "predictions.jsonl"
    env = {
        "REDIS_URL": redis_url,
        "ANTHROPIC_API_KEY": SECRET,
        "ANTHROPIC_BASE_URL": standin.base_url,
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "data"),
    }
    args = ["eval", "swebench", "--instances", str(INSTANCES), "--provider", "local", "--mirror", str(mirror(tmp_path))]
    shown = CliRunner().invoke(main, [*args, "--model", "claude-sonnet-4-6", "--out", str(out)], env=env)
    assert shown.exit_code == 0, shown.output
    standin.assert_all_consumed()

    # Imported here: swebench loads `datasets` (slow), and only this test needs it.
    from swebench.harness.utils import get_predictions_from_file, load_swebench_dataset

    dataset = load_swebench_dataset(str(INSTANCES), split="test")
    predictions = get_predictions_from_file(str(out), dataset_name=str(INSTANCES), split="test")
    assert [p["instance_id"] for p in predictions] == [d["instance_id"] for d in dataset]
    fixed = PATCH.replace("--- a/", "index 12ee743..4693ad3 100644\n--- a/")
    assert predictions == [
        {"instance_id": "acme__calc-1", "model_name_or_path": "nightshift/claude-sonnet-4-6", "model_patch": fixed},
        {"instance_id": "acme__strings-2", "model_name_or_path": "nightshift/claude-sonnet-4-6", "model_patch": ""},
    ]
    # What the official harness does with it: the instance's tests on the base commit plus the predicted patch.
    work = tmp_path / "graded"
    subprocess.run(["git", "clone", "-q", str(tmp_path / "mirror" / "acme" / "calc.git"), str(work)], check=True)
    for patch in (fixed, dataset[0]["test_patch"]):
        subprocess.run(["git", "apply", "-"], input=patch, text=True, cwd=work, check=True)
    graded = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_calc.py"], cwd=work)
    assert graded.returncode == 0


def test_a_malformed_instance_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(INSTANCES.read_text().splitlines()[0] + "\n" + '{"instance_id": "x"}\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2 is not a SWE-bench instance"):
        read_instances(path)
