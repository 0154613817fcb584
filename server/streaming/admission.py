"""Admission, turn-taking and accounting for sample streams.

Three bounds (server/settings.py):

* ``concurrency`` worker slots compute chunks at once (default one, using every core). Chunks of every stream take
  turns at them (``TurnQueue``): a stream asks again after each chunk and goes to the back of the line, so a
  long computation cannot hog the cores, and a new computation's first chunk (its x_T frame) goes first, so
  every student sees a first frame within about one chunk.
* ``active`` streams take turns at once; up to ``waiting`` more are admitted into an ordered queue (first come,
  first served) where their SSE stream tells the client where it stands; beyond that, 429.
* How long the queue takes to move is measured (places given back per second), so the 429's Retry-After and
  the ``queue`` events' ETA are estimates, not constants.

An admitted stream holds a ``Place``, given back exactly once however the stream ends: the request
holds it in a ``with`` block until it hands it to the computation's task, which gives it back when
the task is done (finished, failed, or cancelled, even before its first step or while still queued).
The counters are read by ``/healthz`` and by the live tests that check a disconnect stops work.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Any

RETRY_AFTER_SECONDS = 2  # Retry-After before any place has come back (nothing measured yet)
MAX_RETRY_AFTER_SECONDS = 600
DRAIN_WINDOW = 16  # the last this many places given back measure the drain rate


class TurnQueue:
    """Whose chunk runs next: first chunks of new computations first (in the order they asked), then the
    others in the order they asked. Pure bookkeeping (no clock, no loop), so its order is tested directly."""

    def __init__(self) -> None:
        self._first: deque[Hashable] = deque()
        self._rest: deque[Hashable] = deque()

    def push(self, who: Hashable, *, first: bool) -> None:
        (self._first if first else self._rest).append(who)

    def pop(self) -> Hashable | None:
        """The next in line (removed), or None when nobody waits."""
        for line in (self._first, self._rest):
            if line:
                return line.popleft()
        return None

    def remove(self, who: Hashable) -> None:
        for line in (self._first, self._rest):
            if who in line:
                line.remove(who)

    def __len__(self) -> int:
        return len(self._first) + len(self._rest)


class Place:
    """One admitted stream's place in a ``SamplingGate``: computing at once, or queued until ``active()``.

    ``with place:`` gives it back when the block ends, unless ``hand_to(task)`` was called inside:
    then the task owns it and it goes back when the task is done, whatever its end."""

    def __init__(self, gate: SamplingGate, queued: bool):
        self._gate: SamplingGate | None = gate
        self._owner: asyncio.Task[Any] | None = None
        self._queued = queued
        self._promoted: asyncio.Future[None] | None = None  # made when someone waits for it

    @property
    def queued(self) -> bool:
        return self._queued

    async def active(self) -> None:
        """Wait for this place's turn to compute (at once unless it was queued)."""
        if self._queued:
            if self._promoted is None:
                self._promoted = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._promoted)

    def promote(self) -> None:
        self._queued = False
        if self._promoted is not None and not self._promoted.done():
            self._promoted.set_result(None)

    def hand_to(self, task: asyncio.Task[Any]) -> None:
        self._owner = task
        task.add_done_callback(lambda _: self.release())

    def release(self) -> None:
        """Give the place back (a second call does nothing)."""
        if self._gate is not None:
            gate, self._gate = self._gate, None
            gate.given_back(self)

    def __enter__(self) -> Place:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._owner is None:
            self.release()


class SamplingGate:
    def __init__(self, concurrency: int, waiting: int, active: int | None = None):
        self.active_limit = concurrency if active is None else active
        self.limit = self.active_limit + waiting
        self._slots = concurrency  # free worker slots (loop thread only)
        self._turns = TurnQueue()
        self._queue: deque[Place] = deque()  # admitted, waiting for an active place, first come first served
        self._drained: deque[float] = deque(maxlen=DRAIN_WINDOW)  # when active places came back
        self._lock = threading.Lock()
        self.open_streams = 0  # admitted and not yet released (loop thread only)
        self.active_streams = 0  # of which taking turns at the workers
        self.busy_chunks = 0  # chunks running in worker threads right now
        self.steps_computed = 0  # reverse steps computed by all streams, ever

    # ------------------------------------------------------------------ places

    def admit(self) -> Place | None:
        """A place for one more stream (queued when every active place is taken), or None when every place
        is taken (the caller answers 429 with ``standing(None)``)."""
        if self.open_streams >= self.limit:
            return None
        self.open_streams += 1
        place = Place(self, queued=self.active_streams >= self.active_limit)
        if place.queued:
            self._queue.append(place)
        else:
            self.active_streams += 1
        return place

    def given_back(self, place: Place) -> None:
        self.open_streams -= 1
        if place in self._queue:  # left while waiting
            self._queue.remove(place)
            return
        self.active_streams -= 1
        self._drained.append(time.monotonic())
        if self._queue:
            self.active_streams += 1
            self._queue.popleft().promote()

    def drain_per_second(self) -> float | None:
        """Active places given back per second, over the last ``DRAIN_WINDOW`` (None until two came back)."""
        if len(self._drained) < 2 or self._drained[-1] <= self._drained[0]:
            return None
        return (len(self._drained) - 1) / (self._drained[-1] - self._drained[0])

    def standing(self, place: Place | None) -> dict[str, Any]:
        """Where a queued place stands, or (None) a refused newcomer would: how many wait ahead of it and about
        how many seconds until it computes (None before anything was measured), with the words for it."""
        ahead = self._queue.index(place) if place is not None and place in self._queue else len(self._queue)
        rate = self.drain_per_second()
        eta = None if rate is None else math.ceil((ahead + 1) / rate)
        words = f"{ahead} ahead of you" + (f", about {eta} s" if eta is not None else "")
        return {"ahead": ahead, "eta_s": eta, "message": words}

    def retry_after(self) -> int:
        """Seconds after which a refused newcomer may find a place: the measured time for one to come back."""
        rate = self.drain_per_second()
        if rate is None:
            return RETRY_AFTER_SECONDS
        return max(1, min(MAX_RETRY_AFTER_SECONDS, math.ceil(1 / rate)))

    # ------------------------------------------------------------------ turns at the workers

    @asynccontextmanager
    async def compute(self, *, first: bool = False) -> AsyncIterator[None]:
        """Hold a worker slot for one chunk; ``first``: a new computation's first chunk, served before the rest."""
        await self._take_turn(first)
        try:
            yield
        finally:
            self._pass_turn()

    async def _take_turn(self, first: bool) -> None:
        if self._slots > 0 and not self._turns:
            self._slots -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._turns.push(turn, first=first)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._pass_turn()  # the slot was handed over as the waiter was cancelled: pass it on
            else:
                self._turns.remove(turn)
            raise

    def _pass_turn(self) -> None:
        """Hand the slot to the next in line (directly, so nobody overtakes it), or free it."""
        while (turn := self._turns.pop()) is not None:
            assert isinstance(turn, asyncio.Future)
            if not turn.done():
                turn.set_result(None)
                return
        self._slots += 1

    # ------------------------------------------------------------------ accounting

    def chunk_started(self) -> None:
        with self._lock:
            self.busy_chunks += 1

    def chunk_finished(self, steps: int) -> None:
        with self._lock:
            self.busy_chunks -= 1
            self.steps_computed += steps
