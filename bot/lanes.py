"""Per-chat lanes: the jobs of one chat run one after another, in the order they were given;
the jobs of different chats run at the same time (up to a limit).

This is what keeps a person's quick messages in order ("2 млн", then "я директор") while a
hundred other people are answered concurrently. aiogram's own polling starts one task per update
and gives no such guarantee.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

import structlog

log = structlog.get_logger(__name__)

Job = Callable[[], Awaitable[None]]


class Lanes:
    def __init__(self, *, concurrency: int = 256) -> None:
        self._queues: dict[Hashable, deque[Job]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, key: Hashable, job: Job) -> None:
        """Run ``job`` after every job submitted earlier under ``key``."""
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(job)
            return
        self._queues[key] = deque([job])
        self._idle.clear()
        task = asyncio.create_task(self._run(key), name=f"lane-{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def busy(self) -> int:
        """Lanes with work queued or running."""
        return len(self._queues)

    async def _run(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            while queue:
                job = queue[0]
                async with self._slots:
                    try:
                        await job()
                    except Exception:
                        # A job handles its own failures; one that escapes must not stop the lane.
                        log.exception("lane_job_failed", lane=str(key))
                queue.popleft()
        finally:
            del self._queues[key]
            if not self._queues:
                self._idle.set()

    async def join(self) -> None:
        """Wait until every submitted job has run."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop at once: cancel what runs, drop what waits (callers that must not lose work
        ``join`` first)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
