"""A session's artifacts (screenshots, full tool outputs), served only under the names its log lists."""

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from control_plane.errors import NotFound
from control_plane.web.auth import Member
from control_plane.web.deps import SettingsDep, Store
from control_plane.web.present import INLINE_IMAGES
from harness.events import ArtifactSaved

router = APIRouter()


@router.get("/sessions/{session_id}/artifacts/{name}")
async def artifact(session_id: str, name: str, caller: Member, store: Store, settings: SettingsDep) -> Response:
    log = await store.events(session_id)
    saved = [i.event for i in log if isinstance(i.event, ArtifactSaved) and i.event.name == name]
    if not saved:
        raise NotFound(f"session {session_id!r} has no artifact {name!r}")
    root = (settings.data_dir / "artifacts").resolve()
    path = (root / saved[-1].path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound(f"artifact {name!r} is not on this server")
    if saved[-1].mime_type in INLINE_IMAGES:
        return FileResponse(path, media_type=saved[-1].mime_type)
    # Anything else is a download: an HTML or SVG file the agent made must never run as one of our pages.
    return FileResponse(
        path, media_type="application/octet-stream", filename=name, content_disposition_type="attachment"
    )
