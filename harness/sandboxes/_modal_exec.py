"""One command in a Modal sandbox: streamed as it prints, capped like the local provider's (head and tail kept),
with Modal's own per-exec timeout and a client-side deadline behind it in case the stream never closes."""

import asyncio
import codecs
import math
import time
from typing import Any

from harness.sandboxes._process import OutputCapture
from harness.sandboxes.base import ExecResult, OutputCallback

_GRACE_S = 15.0
"""How long past its timeout we wait for Modal to report a command it should have killed."""


async def run_exec(
    sb: Any,
    command: str,
    *,
    workdir: str,
    timeout_s: float,
    output_limit_bytes: int,
    env: dict[str, str] | None,
    on_output: OutputCallback | None,
) -> ExecResult:
    started = time.monotonic()
    # -c, not -lc: no login profile deciding what the command sees. text=False: bytes, decoded here once.
    proc = await sb.exec.aio(
        "bash", "-c", command, timeout=max(1, math.ceil(timeout_s)), workdir=workdir, env=env, text=False
    )
    capture = OutputCapture(output_limit_bytes)
    returncode: int | None = None
    try:
        async with asyncio.timeout(timeout_s + _GRACE_S):
            await asyncio.gather(_pump(proc.stdout, capture, on_output), _pump(proc.stderr, capture, on_output))
            returncode = await proc.wait.aio()
    except TimeoutError:
        returncode = None
    took_s = time.monotonic() - started
    timed_out = returncode is None or (returncode != 0 and took_s >= timeout_s)
    output = capture.render()
    if timed_out:
        output += f"\n[killed after {timeout_s:g} s: the command timed out]\n"
    return ExecResult(
        exit_code=None if timed_out else returncode,
        output=output,
        truncated=capture.cut_bytes > 0,
        timed_out=timed_out,
        output_bytes=capture.total_bytes,
        duration_ms=round(took_s * 1000),
    )


async def _pump(stream: Any, capture: OutputCapture, on_output: OutputCallback | None) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for chunk in stream:
        capture.add(chunk)
        text = decoder.decode(chunk)
        if text and on_output is not None:
            await on_output(text)
    tail = decoder.decode(b"", final=True)
    if tail and on_output is not None:
        await on_output(tail)
