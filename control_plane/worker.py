"""A worker process's job loop: take jobs from the queue, run each session under a lease, keep the lease
alive while it runs, and stop runs that were cancelled or whose lease was lost."""

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence

from control_plane.log_setup import session_id_var
from control_plane.queue import Job, WorkQueue
from control_plane.runner import SessionRunner, StopRequest
from control_plane.store import SessionStore
from harness.errors import HandBack
from harness.events import ErrorEvent

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        *,
        queue: WorkQueue,
        store: SessionStore,
        runner: SessionRunner,
        concurrency: int,
        idle_poll_ms: int = 1000,
        background: Sequence[Callable[[asyncio.Event], Awaitable[None]]] = (),
        drain_timeout_s: float = 600.0,
    ) -> None:
        self.queue, self.store, self.runner = queue, store, runner
        self.concurrency, self.idle_poll_ms = concurrency, idle_poll_ms
        self.drain_timeout_s = drain_timeout_s
        """How long a graceful stop waits for runs to reach a step boundary before cancelling them."""
        self.background = background
        """Loops that run beside the jobs (snapshot refresh) and end when the worker stops."""
        self._tasks: dict[asyncio.Task[None], StopRequest] = {}
        self._stopping = asyncio.Event()

    async def run(self, until: Callable[[], bool] = lambda: False) -> None:
        """Work until stop() is called or `until()` is true between jobs."""
        await self.queue.ensure_group()
        beside = [asyncio.create_task(loop(self._stopping)) for loop in self.background]
        while not self._stopping.is_set() and not until():
            if len(self._tasks) >= self.concurrency:
                await asyncio.wait(list(self._tasks), return_when=asyncio.FIRST_COMPLETED, timeout=1)
                continue
            job = await self.queue.next_job(block_ms=self.idle_poll_ms)
            if job is not None and self._stopping.is_set():
                await self.queue.requeue(job)  # read while the stop began (maybe one we just handed back): not ours
            elif job is not None:
                stop = StopRequest()
                task = asyncio.create_task(self._handle(job, stop), name=f"session {job.session_id}")
                self._tasks[task] = stop
                task.add_done_callback(self._tasks.pop)
        await self._drain()
        self._stopping.set()
        await asyncio.gather(*beside)

    def stop(self) -> None:
        """Graceful stop: take no new jobs; each run finishes its current step, pushes a checkpoint and is queued
        again at once for another worker. A second stop() cancels the runs where they are."""
        if self._stopping.is_set():
            self._cancel_all()
        self._stopping.set()
        for stop in self._tasks.values():
            stop.draining = True

    async def _drain(self) -> None:
        for stop in self._tasks.values():
            stop.draining = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.drain_timeout_s)
        self._cancel_all()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _cancel_all(self) -> None:
        """The hard way: the runs stop mid-step; their jobs stay pending and are reclaimed once the lease lapses."""
        for task, stop in self._tasks.items():
            stop.reason = "worker stopping"
            task.cancel()

    async def _handle(self, job: Job, stop: StopRequest) -> None:
        session_id_var.set(job.session_id)  # this task's own context: its log lines, and its children's, carry the id
        if not await self._acquire(job.session_id):
            log.info("session held by another worker; left for later")
            return  # another live worker holds it; the job stays pending and is retried when its lease lapses
        log.info("run starting%s", " (taken over from a silent worker)" if job.reclaimed else "")
        run = asyncio.create_task(self.runner.run(job.session_id, stop))
        beat = asyncio.create_task(self._heartbeat(job, run, stop))
        handed_back = requeue = False
        try:
            await run
        except HandBack:
            handed_back = requeue = True
        except asyncio.CancelledError:
            handed_back = not stop.by_user
            if not run.done():
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)
        except Exception as e:
            log.exception("session %s crashed", job.session_id)
            await self._fail(job.session_id, e)
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
        if not handed_back:
            await self.queue.done(job)
        await self.queue.release(job.session_id)
        if requeue:  # after the release, so the worker that takes the new job can take the lease at once
            await self.queue.requeue(job)
        log.info("run handed back to the queue" if handed_back else "run over")

    async def _acquire(self, session_id: str, attempts: int = 10) -> bool:
        for _ in range(attempts):
            if await self.queue.acquire(session_id):
                return True
            await asyncio.sleep(0.2)
        return False

    async def _heartbeat(self, job: Job, run: asyncio.Task[None], stop: StopRequest) -> None:
        while not run.done():
            await asyncio.sleep(self.queue.lease_ms / 3000)
            if not await self.queue.renew(job.session_id):
                stop.reason = "lease lost to another worker"
                run.cancel()
                return
            await self.queue.keep(job)
            session = await self.store.get(job.session_id)
            if session.cancel_requested and not stop.by_user:
                stop.reason, stop.by_user = "cancelled on request", True
                run.cancel()

    async def _fail(self, session_id: str, error: Exception) -> None:
        """A bug, not a planned failure: say so in the session rather than retrying it forever."""
        message = f"internal error: {type(error).__name__}: {error}"
        await self.store.append(session_id, ErrorEvent(message=message))
        await self.store.set_status(session_id, "failed", message, error=message)
