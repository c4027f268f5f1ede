"""docs/configuration.md is `nightshift config reference`'s output, and that covers every setting with its meaning."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from control_plane.cli import main
from control_plane.config import Settings, WebhookConfig
from control_plane.config_reference import reference
from control_plane.sandbox_config import RepoSandboxConfig
from harness.sandboxes.base import NetworkPolicy
from harness.sandboxes.modal import ModalSandboxConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_committed_reference_is_the_generated_one() -> None:
    result = CliRunner().invoke(main, ["config", "reference"])
    assert result.exit_code == 0
    assert result.output == DOC.read_text(), "run: nightshift config reference > docs/configuration.md"


@pytest.mark.parametrize("model", [Settings, ModalSandboxConfig, RepoSandboxConfig, NetworkPolicy, WebhookConfig])
def test_every_setting_is_described(model: type[BaseModel]) -> None:
    undocumented = [name for name, field in model.model_fields.items() if not field.description]
    assert undocumented == [], "give these fields an attribute docstring"


def test_each_setting_has_a_row_with_its_variables_and_default() -> None:
    rows = {line.split(" | ")[0].strip("| `"): line for line in reference().splitlines() if line.startswith("| `")}
    assert set(Settings.model_fields) <= set(rows)
    assert rows["redis_url"].startswith("| `redis_url` | `NIGHTSHIFT_REDIS_URL`, `REDIS_URL` | unset |")
    assert "| `NIGHTSHIFT_WORKER_CONCURRENCY` | `4` |" in rows["worker_concurrency"]
    assert "`NIGHTSHIFT_SLACK_CHANNEL_REPOS` (JSON) | `{}` |" in rows["slack_channel_repos"]
    assert "| `github_token` | `NIGHTSHIFT_GITHUB_TOKEN`, `GITHUB_TOKEN` | unset |" in rows["github_token"]
    assert rows["github_token"].endswith("Secret. |")
