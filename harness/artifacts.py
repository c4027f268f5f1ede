"""Session artifacts: files made for people rather than for the model (screenshots, long tool outputs in full).

They live in a directory per session under the data dir (`<data_dir>/artifacts/<session_id>/<name>`); the log
gets an `artifact` event naming each one, and the API serves only the names the log lists.
"""

import asyncio
import os
import re
from pathlib import Path
from typing import Protocol

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class ArtifactStore(Protocol):
    async def save(self, name: str, data: bytes) -> str:
        """Store `data` as `name`; returns where it is, relative to the artifacts root (`<session>/<name>`)."""
        ...


def valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None and ".." not in name


def safe_name(text: str) -> str:
    """`text` (a tool_use id, a file name a tool chose) as a valid artifact name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).replace("..", "_")[:200].lstrip("._-") or "artifact"


class LocalArtifacts:
    """A session's artifacts as files on this machine."""

    def __init__(self, root: Path, session_id: str) -> None:
        self.root, self.session_id = root, session_id

    async def save(self, name: str, data: bytes) -> str:
        assert valid_name(name), f"artifact name {name!r} is not a plain file name"
        relative = f"{self.session_id}/{name}"
        await asyncio.to_thread(_write, self.root / relative, data)
        return relative


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # readers (the API) never see half a file
