"""`nightshift doctor`'s Modal check (harness.sandboxes.modal.check_access) against the modal stand-in: a token, then
one lookup of the sandboxes' app; a missing token or a refused lookup is a clear error."""

from pathlib import Path

import pytest
from modal_standin import FakeModal

from harness.errors import ConfigError, SandboxError
from harness.sandboxes.modal import ModalSandboxConfig, check_access


async def test_a_token_and_a_lookup(tmp_path: Path) -> None:
    fake = FakeModal(tmp_path)
    await check_access(ModalSandboxConfig(app_name="ns-sandboxes"), fake)
    assert fake.calls == [("App.lookup", ("ns-sandboxes",), {"create_if_missing": True})]


async def test_no_token_is_refused_before_any_call(tmp_path: Path) -> None:
    fake = FakeModal(tmp_path)
    fake.config.config = {}
    with pytest.raises(ConfigError, match="no Modal token: run `modal token new`"):
        await check_access(ModalSandboxConfig(), fake)
    assert fake.calls == []


async def test_a_refused_lookup(tmp_path: Path) -> None:
    fake = FakeModal(tmp_path)

    async def refuse(name: str, *, create_if_missing: bool = False) -> None:
        raise fake.exception.Error("Token ID is malformed")

    fake.App.lookup.fn = refuse
    with pytest.raises(
        SandboxError, match="Modal refused the lookup of app 'nightshift-sandboxes': Token ID is malformed"
    ):
        await check_access(ModalSandboxConfig(), fake)
