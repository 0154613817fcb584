"""Admission and accounting for sample streams.

``concurrency`` streams compute at once (an ``asyncio.Semaphore`` held per chunk, so a stalled
client holds no slot); up to ``waiting`` more may be open and wait their turn; beyond that, 429.
The counters are read by ``/healthz`` and by the live tests that check a disconnect stops work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

RETRY_AFTER_SECONDS = 2


class SamplingGate:
    def __init__(self, concurrency: int, waiting: int):
        self.limit = concurrency + waiting
        self._semaphore = asyncio.Semaphore(concurrency)  # binds to the running loop on first use
        self._lock = threading.Lock()
        self.open_streams = 0  # admitted and not yet released (loop thread only)
        self.busy_chunks = 0  # chunks running in worker threads right now
        self.steps_computed = 0  # reverse steps computed by all streams, ever

    def admit(self) -> bool:
        if self.open_streams >= self.limit:
            return False
        self.open_streams += 1
        return True

    def release(self) -> None:
        self.open_streams -= 1

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
