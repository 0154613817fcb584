"""SlotRunner: the machinery shared by ``JobRunner`` (training) and ``AnalysisRunner`` (sweeps, recursive).

* A bounded FIFO served by a fixed number of plain slot threads (torch releases the GIL in its
  kernels, so the event loop stays responsive).
* Cancellation is a ``threading.Event`` per job, checked by the job's own loop between steps.
* Progress fans out to SSE subscribers through small bounded ``asyncio.Queue``s, fed from the job
  thread with ``loop.call_soon_threadsafe``; a full queue drops its oldest event.

Subclasses decide what a job is, how it runs and how it ends (``_run``, ``_finish``), what a new
subscriber sees first (``_first_events``) and what a slot does as it picks a job up.

Threading: ``_lock`` guards the queue, the active jobs and their fields; subscriber sets are only
touched on the event-loop thread (subscribe, unsubscribe and fan-out all run there).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from fastapi.sse import ServerSentEvent

from ..streaming.encode import EVENT_DONE, EVENT_ERROR

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


@dataclass(kw_only=True)
class QueuedJob:
    """What the runner needs of a job; subclasses add their fields and say which one is the key."""

    cancel: threading.Event = field(default_factory=threading.Event)
    subscribers: set[asyncio.Queue[ServerSentEvent]] = field(default_factory=set)  # loop thread only
    last_publish: float = 0.0  # monotonic time of the last progress event, for rate limiting

    @property
    def key(self) -> str:
        raise NotImplementedError


J = TypeVar("J", bound=QueuedJob)


class JobQueueFull(Exception):
    """The queue has no free place (→ 429 with ``Retry-After``)."""

    queue_name = "job"

    def __init__(self, retry_after: int):
        super().__init__(f"the {self.queue_name} queue is full; retry in about {retry_after} s")
        self.retry_after = retry_after


class SlotRunner(Generic[J]):
    thread_name = "modelab-job"

    def __init__(self, slots: int):
        self.slots = slots
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._queue: deque[J] = deque()
        self._active: dict[str, J] = {}  # queued or running, by key
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ hooks

    def _run(self, job: J) -> None:
        raise NotImplementedError

    def _finish(self, job: J, status: JobStatus, *, error: str | None = None) -> None:
        """Record the outcome, retire the job and publish its last event."""
        raise NotImplementedError

    def _mark_running(self, job: J) -> ServerSentEvent:
        """Called with ``_lock`` held as a slot takes ``job``; returns the event announcing it."""
        raise NotImplementedError

    def _first_events(self, job: J) -> list[ServerSentEvent]:
        """Called with ``_lock`` held: what a new subscriber receives before any live event."""
        raise NotImplementedError

    def _subscriber_maxsize(self, backlog: int) -> int:
        raise NotImplementedError

    def _started(self, job: J, event: ServerSentEvent) -> None:
        """Outside the lock, before ``_run``."""
        self._publish(job, event)

    def _cancelled_while_queued(self, job: J) -> None:
        self._finish(job, "cancelled")

    # ------------------------------------------------------------------ lifecycle

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for i in range(self.slots):
            thread = threading.Thread(target=self._slot, name=f"{self.thread_name}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel everything: queued jobs at once, running ones at their next step; join the slots."""
        with self._lock:
            self._stopping = True
            queued = list(self._queue)
            self._queue.clear()
            for job in self._active.values():
                job.cancel.set()
            self._wakeup.notify_all()
        for job in queued:
            self._finish(job, "cancelled", error="server stopped")
        for thread in self._threads:
            thread.join(timeout)

    def _enqueue(self, job: J) -> None:
        """Called with ``_lock`` held, after the subclass's admission checks."""
        self._active[job.key] = job
        self._queue.append(job)
        self._wakeup.notify()

    def cancel(self, key: str) -> bool:
        """Cancel a queued or running job; False when there is none."""
        with self._lock:
            job = self._active.get(key)
            if job is None:
                return False
            job.cancel.set()
            was_queued = job in self._queue
            if was_queued:
                self._queue.remove(job)
        if was_queued:
            self._cancelled_while_queued(job)
        return True

    def counts(self) -> tuple[int, int]:
        """(queued, running) jobs."""
        with self._lock:
            return len(self._queue), len(self._active) - len(self._queue)

    # ------------------------------------------------------------------ subscribers (loop thread)

    def subscribe(self, key: str) -> asyncio.Queue[ServerSentEvent] | None:
        """On the loop thread: a queue that starts with ``_first_events``; None if not active."""
        with self._lock:
            job = self._active.get(key)
            if job is None:
                return None
            first = self._first_events(job)
        queue: asyncio.Queue[ServerSentEvent] = asyncio.Queue(maxsize=self._subscriber_maxsize(len(first)))
        for event in first:
            queue.put_nowait(event)
        job.subscribers.add(queue)
        return queue

    def unsubscribe(self, key: str, queue: asyncio.Queue[ServerSentEvent]) -> None:
        with self._lock:
            job = self._active.get(key)
        if job is not None:
            job.subscribers.discard(queue)

    async def follow(self, key: str, queue: asyncio.Queue[ServerSentEvent]
                     ) -> AsyncGenerator[ServerSentEvent, None]:
        """Yield a subscription's events up to ``done`` or ``error``; unsubscribe however it ends
        (a client disconnect cancels the consumer at its ``await``)."""
        try:
            while True:
                event = await queue.get()
                yield event
                if event.event in (EVENT_DONE, EVENT_ERROR):
                    return
        finally:
            self.unsubscribe(key, queue)

    # ------------------------------------------------------------------ slot threads

    def _slot(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._wakeup.wait()
                if self._stopping:
                    return
                job = self._queue.popleft()
                event = self._mark_running(job)
            self._started(job, event)
            self._run(job)

    def _publish(self, job: J, event: ServerSentEvent) -> None:
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(_fan_out, job.subscribers, event)
            except RuntimeError:  # loop closed between the check and the call (shutdown)
                pass


def _fan_out(subscribers: set[asyncio.Queue[ServerSentEvent]], event: ServerSentEvent) -> None:
    for queue in list(subscribers):
        if queue.full():
            queue.get_nowait()  # drop the oldest: each progress event carries the whole state
        queue.put_nowait(event)
