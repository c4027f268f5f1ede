"""Git's smart HTTP protocol for the GitHub stand-in: `git http-backend` run as a CGI program, so clones, fetches
and pushes against the stand-in go through real git over real HTTP, with the credentials a client sent."""

import asyncio
import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response


async def http_backend(project_root: Path, path_info: str, request: Request, remote_user: str | None) -> Response:
    """Answer one git request. `remote_user` set means authenticated: http-backend then allows pushes."""
    body = await request.body()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(project_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_CONTENT_ENCODING": request.headers.get("content-encoding", ""),
        "GIT_PROTOCOL": request.headers.get("git-protocol", ""),
        "REMOTE_ADDR": "127.0.0.1",
        **({"REMOTE_USER": remote_user} if remote_user else {}),
    }
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate(body)
    if proc.returncode != 0 and not out:
        return Response(err, status_code=500, media_type="text/plain")
    head, _, payload = out.partition(b"\r\n\r\n")
    status, headers = 200, {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name] = value.strip()
    return Response(payload, status_code=status, headers=headers)
