"""Screenshots with real headless Chromium (Debian's, driven by Playwright) of a page served inside the sandbox,
stored as a session artifact and served by the API."""

import struct
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from spine import marker, run_to_end

from control_plane.api import ApiConfig, create_app
from control_plane.runtime import Runtime
from harness.errors import ToolInputError
from harness.events import ArtifactSaved, ToolResult
from harness.screenshot import ChromiumConfig, PlaywrightScreenshotter, chromium_available
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use

PAGE = "<html><body style='background:#123456'><h1 style='color:white'>Nightshift was here</h1></body></html>"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def test_chromium_is_installed() -> None:
    """install.sh installs it; without it the tool is not offered at all (and this suite would not test it)."""
    assert chromium_available(ChromiumConfig())


async def test_screenshot_of_a_page_served_in_the_sandbox_becomes_an_artifact(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag, port, tools_offered = marker(), free_port(), []

    def shoot(req: RecordedRequest) -> Reply:
        tools_offered.extend(t["name"] for t in req.tools)
        serve = f"python3 -m http.server {port} --bind 127.0.0.1 --directory site"
        url = f"http://localhost:{port}/index.html"
        return Reply(tool_use("take_screenshot", {"url": url, "serve_command": serve, "width": 1024, "height": 640}))

    steps = [
        Reply(tool_use("write_file", {"path": "site/index.html", "content": PAGE})),
        shoot,
        Reply(tool_use("finish", {"summary": "see the screenshot"})),
    ]
    standin.register(Script(steps, key=tag))
    session = await run_to_end(rt, remote, f"{tag} make the page dark blue")
    assert session.status == "finished", session.error
    events = [e.event for e in await rt.store.events(session.id)]
    [result] = [e for e in events if isinstance(e, ToolResult) and e.name == "take_screenshot"]
    assert not result.is_error, result.output
    [shot] = [e for e in events if isinstance(e, ArtifactSaved)]
    assert shot.mime_type == "image/png" and shot.name.endswith("-screenshot.png")
    data = (rt.settings.data_dir / "artifacts" / shot.path).read_bytes()
    assert png_size(data) == (1024, 640) and shot.size_bytes == len(data)
    assert "take_screenshot" in tools_offered
    # the server the tool started is gone with the call: nothing listens on the port any more
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)

    config = ApiConfig(api_token="t" * 20, artifacts_dir=rt.settings.data_dir / "artifacts")
    app = create_app(rt.redis, rt.store, config)
    headers = {"Authorization": "Bearer " + "t" * 20}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers) as c:
        served = await c.get(f"/api/sessions/{session.id}/artifacts/{shot.name}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png" and served.content == data


async def test_a_server_that_dies_is_reported_with_its_output(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    tag = marker()
    broken = {"url": f"http://127.0.0.1:{free_port()}/", "serve_command": "echo no such app >&2; exit 3"}
    steps = [Reply(tool_use("take_screenshot", broken)), Reply(tool_use("finish", {"summary": "could not"}))]
    standin.register(Script(steps, key=tag))
    session = await run_to_end(rt, remote, f"{tag} screenshot")
    [result] = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, ToolResult)][:1]
    assert result.is_error and "exit code 3" in result.output and "no such app" in result.output


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://example.com/", "only pages the sandbox serves"),
        ("http://169.254.169.254/latest/meta-data", "only pages the sandbox serves"),
        ("file:///etc/passwd", "only http"),
        ("http://127.0.0.1:8000/api/sessions", "belongs to the control plane"),
    ],
)
def test_urls_outside_the_sandbox_are_refused(url: str, says: str) -> None:
    screenshots = PlaywrightScreenshotter(ChromiumConfig(blocked_ports=[8000]))
    with pytest.raises(ToolInputError, match=says):
        screenshots.check_url(url)
