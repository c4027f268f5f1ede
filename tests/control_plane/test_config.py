from pathlib import Path

import pytest
from redis.asyncio import Redis

from control_plane.config import Settings
from control_plane.sandbox_runtime import sandbox_provider
from harness.errors import ConfigError
from harness.messages import Usage
from harness.pricing import cost_usd


def test_environment_overrides_the_file_and_aliases_work(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('model = "from-file"\nmax_steps = 7\nworker_concurrency = 3\n')
    env = {
        "NIGHTSHIFT_DATA_DIR": str(tmp_path),
        "NIGHTSHIFT_MAX_STEPS": "9",
        "REDIS_URL": "redis://h:1/0",
        "ANTHROPIC_API_KEY": "sk-ant-123456789",
    }
    s = Settings.load(env)
    assert (s.model, s.max_steps, s.worker_concurrency, s.redis_url) == ("from-file", 9, 3, "redis://h:1/0")
    assert s.config_file == tmp_path / "config.toml"
    assert s.secrets() == ["sk-ant-123456789"]
    assert s.budget().max_steps == 9


def test_defaults_without_anything(tmp_path: Path) -> None:
    s = Settings.load({"HOME": str(tmp_path)})
    assert s.data_dir == tmp_path / ".local" / "share" / "nightshift"
    assert (s.redis_url, s.config_file, s.sandbox) == (None, None, "local")


@pytest.mark.parametrize(
    ("env", "toml", "says"),
    [
        ({"NIGHTSHIFT_MAX_STEPS": "many"}, None, "max_steps"),
        ({}, "colour = 'blue'\n", "unknown settings in"),
        ({}, "model = \n", "cannot read config file"),
        ({"NIGHTSHIFT_CONFIG": "/no/such.toml"}, None, "which is not a file"),
    ],
)
def test_bad_configuration_is_a_clear_error(tmp_path: Path, env: dict[str, str], toml: str | None, says: str) -> None:
    if toml is not None:
        (tmp_path / "config.toml").write_text(toml)
    with pytest.raises(ConfigError, match=says):
        Settings.load({"NIGHTSHIFT_DATA_DIR": str(tmp_path), **env})


def test_missing_api_key_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY is not set"):
        Settings.load({"NIGHTSHIFT_DATA_DIR": str(tmp_path)}).anthropic()


def test_model_prices_override_the_list_prices(tmp_path: Path) -> None:
    prices = '{"claude-sonnet-4": {"input_per_mtok": 2.0, "output_per_mtok": 10.0}}'
    s = Settings.load(
        {"NIGHTSHIFT_DATA_DIR": str(tmp_path), "ANTHROPIC_API_KEY": "k", "NIGHTSHIFT_MODEL_PRICES": prices}
    )
    config = s.anthropic()
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost_usd("claude-sonnet-4-6", usage, config.prices) == 12.0  # list price would be 18.0
    assert cost_usd("claude-haiku-4-5", usage, config.prices) == 6.0  # the others keep their list prices


def test_sandbox_read_only_paths_from_the_environment_and_their_checks(tmp_path: Path) -> None:
    tools = [tmp_path / "opt" / "a", tmp_path / "opt" / "b"]
    for tool in tools:
        tool.mkdir(parents=True)
    data = tmp_path / "data"
    env = {"NIGHTSHIFT_DATA_DIR": str(data), "NIGHTSHIFT_SANDBOX_READ_ONLY_PATHS": f"{tools[0]}:{tools[1]}"}
    settings = Settings.load(env)
    assert settings.sandbox_read_only_paths == tools
    assert sandbox_provider(settings, Redis()) is not None  # no connection: the local provider does not use Redis
    # A path in the data dir (its mirrors, Redis files, keys) is refused at start, not only the sandboxes.
    (data / "mirrors").mkdir(parents=True)
    shows_data = Settings.load({**env, "NIGHTSHIFT_SANDBOX_READ_ONLY_PATHS": str(data / "mirrors")})
    with pytest.raises(ConfigError, match="would show"):
        sandbox_provider(shows_data, Redis())
