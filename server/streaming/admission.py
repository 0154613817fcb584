"""Admission and accounting for sample streams.

``concurrency`` streams compute at once (an ``asyncio.Semaphore`` held per chunk, so a stalled
client holds no slot); up to ``waiting`` more may be open and wait their turn; beyond that, 429.
The counters are read by ``/healthz`` and by the live tests that check a disconnect stops work.

An admitted stream holds a ``Place``, given back exactly once however the stream ends: the request
holds it in a ``with`` block until it hands it to the computation's task, which gives it back when
the task is done (finished, failed, or cancelled, even before its first step).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

RETRY_AFTER_SECONDS = 2


class Place:
    """One admitted stream's place in a ``SamplingGate``.

    ``with place:`` gives it back when the block ends, unless ``hand_to(task)`` was called inside:
    then the task owns it and it goes back when the task is done, whatever its end."""

    def __init__(self, gate: SamplingGate):
        self._gate: SamplingGate | None = gate
        self._owner: asyncio.Task[Any] | None = None

    def hand_to(self, task: asyncio.Task[Any]) -> None:
        self._owner = task
        task.add_done_callback(lambda _: self.release())

    def release(self) -> None:
        """Give the place back (a second call does nothing)."""
        if self._gate is not None:
            self._gate.open_streams -= 1
            self._gate = None

    def __enter__(self) -> Place:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._owner is None:
            self.release()


class SamplingGate:
    def __init__(self, concurrency: int, waiting: int):
        self.limit = concurrency + waiting
        self._semaphore = asyncio.Semaphore(concurrency)  # binds to the running loop on first use
        self._lock = threading.Lock()
        self.open_streams = 0  # admitted and not yet released (loop thread only)
        self.busy_chunks = 0  # chunks running in worker threads right now
        self.steps_computed = 0  # reverse steps computed by all streams, ever

    def admit(self) -> Place | None:
        """A place for one more stream, or None when every place is taken (the caller answers 429)."""
        if self.open_streams >= self.limit:
            return None
        self.open_streams += 1
        return Place(self)

    @asynccontextmanager
    async def compute(self) -> AsyncIterator[None]:
        async with self._semaphore:
            yield

    def chunk_started(self) -> None:
        with self._lock:
            self.busy_chunks += 1

    def chunk_finished(self, steps: int) -> None:
        with self._lock:
            self.busy_chunks -= 1
            self.steps_computed += steps
