"""Shared sampling computations: thirty students opening one link cost one computation.

A ``Computation`` is keyed by result id (run + sampler parameters + algorithm version). The first
request starts it; later requests for the same key subscribe and get every event produced so far,
then the live ones. Events are serialised to JSON once (``raw_data``), so a viewer costs a copy of
bytes, not an encoding. Finished computations stay in memory (a small LRU) and on disk (npz), so
later viewers replay them without computing.

Viewers are counted; when the last one leaves an unfinished computation, it is cancelled (a lone
viewer that disconnects stops the work within one chunk, as before). Everything here runs on the
event-loop thread except the chunks and the final labelling/saving, which run in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi.sse import ServerSentEvent

from ..store import RunRecord, Store
from .admission import Place, SamplingGate
from .artifacts import load_any_result, save_any_result
from .denoisers import AnyModel, DenoiserCache, ImageModel
from .encode import EVENT_DONE, EVENT_ERROR, EVENT_FRAME, EVENT_META, EVENT_QUEUE, EVENT_RESULT
from .families import Family
from .image_results import ImageResultArrays, StreamResult
from .image_session import ImageSession
from .results import ResultDamaged, StoredRun, result_id, result_params
from .sample_session import ChainSession, LocalSampleExecutor, SampleExecutor, SampleRequest, SampleSession

log = logging.getLogger(__name__)

QUEUE_EVENT_SECONDS = 2.0  # a queued stream tells its viewers where it stands this often


def encoded(event: str, data: dict[str, Any]) -> ServerSentEvent:
    """An SSE event whose JSON is built once, however many viewers it is sent to."""
    return ServerSentEvent(event=event, raw_data=json.dumps(data, separators=(",", ":"), allow_nan=False))


@dataclass(eq=False)
class Computation:
    result_id: str
    run_id: str
    kind: str
    params: dict[str, Any]  # result_params: n, seed, sampler, eta, window, frames (and steps for images)
    family: Family = "gaussian"  # "shapes": an image stream
    events: list[ServerSentEvent] = field(default_factory=list)
    finished: bool = False  # the last event (done or error) is in ``events``
    failed: bool = False
    viewers: int = 0
    arrays: StreamResult | None = None  # once finished: for exports and the memory cache
    task: asyncio.Task[None] | None = None
    standing: Callable[[], dict[str, Any] | None] = lambda: None  # where it waits while queued (None: computing)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def nbytes(self) -> int:
        """Memory held: the encoded events and the arrays."""
        arrays = self.arrays.nbytes if self.arrays is not None else 0
        return arrays + sum(len(e.raw_data or "") for e in self.events)

    @property
    def status(self) -> str:
        return "done" if self.finished and not self.failed else "failed" if self.failed else "computing"

    async def append(self, *events: ServerSentEvent, finished: bool = False, failed: bool = False) -> None:
        async with self._changed:
            self.events.extend(events)
            self.finished = self.finished or finished
            self.failed = self.failed or failed
            self._changed.notify_all()

    async def follow(self) -> AsyncIterator[ServerSentEvent]:
        """Every event from the first, waiting for new ones until the last (done or error); while the
        computation is queued, a ``queue`` event every ``QUEUE_EVENT_SECONDS`` (not kept: each is news)."""
        sent, told = 0, -math.inf
        while True:
            standing = self.standing() if sent else None  # after meta
            if standing is not None and time.monotonic() - told >= QUEUE_EVENT_SECONDS:
                told = time.monotonic()
                yield encoded(EVENT_QUEUE, standing)
            async with self._changed:
                while len(self.events) <= sent and not self.finished:
                    if self.standing() is None:
                        await self._changed.wait()
                    else:  # queued: come back to tell where it stands
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._changed.wait(), QUEUE_EVENT_SECONDS)
                        break
                batch = self.events[sent:]
            for event in batch:
                yield event
            sent += len(batch)
            if self.finished and sent == len(self.events):
                return

    @classmethod
    def replay(cls, arrays: StreamResult, run_id: str, kind: str, params: dict[str, Any]) -> Computation:
        """A finished computation rebuilt from stored arrays: the same events, byte for byte."""
        frames = [encoded(EVENT_FRAME, arrays.frame(i)) for i in range(len(arrays.frame_t))]
        events = [encoded(EVENT_META, arrays.meta), *frames, encoded(EVENT_RESULT, arrays.result()),
                  encoded(EVENT_DONE, {})]
        family: Family = "shapes" if isinstance(arrays, ImageResultArrays) else "gaussian"
        return cls(arrays.result_id, run_id, kind, params, family, events=events, finished=True, arrays=arrays)


@contextlib.asynccontextmanager
async def _no_turn(*, first: bool = False) -> AsyncIterator[None]:
    """Where the executor's own scheduler queues the work (a Ray cluster): no local turn to wait for."""
    yield


class TooBusy(Exception):
    """A new computation found no gate place (the route answers 429): where it would stand, and when to retry."""

    def __init__(self, standing: dict[str, Any], retry_after: int):
        super().__init__(standing["message"])
        self.standing, self.retry_after = standing, retry_after


class ComputationRegistry:
    """Opens, shares, stores and replays sample computations: the one owner of the sample stream.

    ``threads``: how many torch threads a chunk may use right now (asked each chunk); an image stream's chunks use
    at most ``image_threads`` of them."""

    def __init__(self, store: Store, gate: SamplingGate, denoisers: DenoiserCache, *, threads: Callable[[], int],
                 chunk_steps: int, memory_size: int, memory_bytes: int = 256 * 1024 * 1024,
                 image_threads: int, executor: SampleExecutor | None = None):
        self._store = store
        self._executor = executor or LocalSampleExecutor()  # chunks in worker threads here, or on a Ray cluster
        self._here = LocalSampleExecutor()  # image streams always compute in this process
        self._gate = gate
        self._denoisers = denoisers
        self._threads = threads
        self._image_threads = image_threads
        self._chunk_steps = chunk_steps
        self._memory_size = memory_size
        self._memory_bytes = memory_bytes
        self._live: dict[str, Computation] = {}
        self._done: OrderedDict[str, Computation] = OrderedDict()  # finished, most recently used last
        self._pending: dict[str, asyncio.Future[Computation]] = {}  # being created (see ``obtain``)
        self.started = 0  # computations started since the server started (the classroom bench reads it)

    # ------------------------------------------------------------------ opening

    async def open(self, run: RunRecord, request: SampleRequest) -> Computation:
        """The computation to follow: a live or remembered one, a stored result, or a new one.

        Only a new computation takes a gate place (``TooBusy`` when full); joining one or replaying is
        free. A run whose model file is missing or damaged raises ``CheckpointError``."""
        key = result_id(run.run_id, request.sampler, request.frames, request.steps)

        async def create() -> Computation:
            stored = await self.stored(key, forget_damaged=True)
            if stored is not None:
                return stored
            place = self._gate.admit()
            if place is None:
                raise TooBusy(self._gate.standing(None), self._gate.retry_after())
            with place:  # given back on any error or cancel here; ``start`` hands it to the computation's task
                model = await asyncio.to_thread(self._denoisers.get, run)
                return self.start(new_session(key, run, model, request, self._threads, self._image_threads), place)

        # The run (and the result it makes) stay stored while it opens, however small the store's cap;
        # from then on the viewer holds them (``watching``).
        with self._store.hold(run.run_id, key):
            return await self.obtain(key, create)

    async def stored(self, key: str, *, forget_damaged: bool) -> Computation | None:
        """A stored result loaded into memory (None when there is none, or, with ``forget_damaged``,
        when its file is damaged: the file is dropped so the result is computed afresh)."""
        store = self._store
        record = await asyncio.to_thread(store.get_result, key)
        if record is None or record.evicted_at is not None:
            return None
        try:
            arrays = await asyncio.to_thread(load_any_result, store.result_path(key))
        except ResultDamaged:
            if not forget_damaged:
                raise
            await asyncio.to_thread(store.forget_result, key)
            return None
        params = json.loads(record.params_json)
        return self.remember(Computation.replay(arrays, record.run_id, str(arrays.meta.get("kind")), params))

    # ------------------------------------------------------------------ lookup

    def find(self, result_id: str) -> Computation | None:
        """A live computation, or a finished one still in memory."""
        if result_id in self._live:
            return self._live[result_id]
        computation = self._done.get(result_id)
        if computation is not None:
            self._done.move_to_end(result_id)
        return computation

    def remember(self, computation: Computation) -> Computation:
        """Keep a finished computation (or a replay loaded from disk) for later viewers; returns the kept one."""
        kept = self._done.get(computation.result_id)
        if kept is not None:  # another request loaded it meanwhile
            self._done.move_to_end(computation.result_id)
            return kept
        self._done[computation.result_id] = computation
        # What is in memory was just produced or viewed: its file and its run stay stored while it is here.
        self._store.acquire(computation.result_id, computation.run_id)
        # Bounded by count and by bytes (a 10,000 × 200-frame result is ~75 MB of events and arrays);
        # a dropped one is replayed from its npz next time.
        while len(self._done) > 1 and (len(self._done) > self._memory_size
                                       or sum(c.nbytes for c in self._done.values()) > self._memory_bytes):
            _, dropped = self._done.popitem(last=False)
            self._store.release(dropped.result_id, dropped.run_id)
        return computation

    async def obtain(self, result_id: str, create: Callable[[], Awaitable[Computation]]) -> Computation:
        """The computation for ``result_id``; ``create`` runs once however many requests arrive together.

        Requests that come while the first one is still loading the model or reading a stored result
        wait for it instead of each taking a gate place (which would turn a class into a wall of 429s).
        If the first one fails, they get its error (409/429); if it was cancelled (its client left), the
        next one tries again."""
        while True:
            found = self.find(result_id)
            if found is not None:
                return found
            pending = self._pending.get(result_id)
            if pending is None:
                break
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request itself was cancelled
        future: asyncio.Future[Computation] = asyncio.get_running_loop().create_future()
        self._pending[result_id] = future
        try:
            computation = await create()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody may be waiting, and that is fine
            raise
        else:
            future.set_result(computation)
            return computation
        finally:
            del self._pending[result_id]

    @property
    def live(self) -> int:
        return len(self._live)

    @property
    def viewers(self) -> int:
        return sum(c.viewers for c in self._live.values()) + sum(c.viewers for c in self._done.values())

    # ------------------------------------------------------------------ starting and watching

    def start(self, session: ChainSession, place: Place) -> Computation:
        """Start computing ``session`` in a task that owns its gate ``place`` (given back when the task is done)."""
        request = session.request
        params = result_params(request.sampler, request.frames, request.steps)
        computation = Computation(session.result_id, session.run_id, session.kind, params,
                                  "shapes" if isinstance(session, ImageSession) else "gaussian")
        meta = session.meta()
        computation.events.append(encoded(EVENT_META, meta))
        gate = self._gate
        computation.standing = lambda: gate.standing(place) if place.queued else None
        computation.task = asyncio.create_task(self._produce(computation, session, meta, place),
                                               name=f"sample-{session.result_id}")
        place.hand_to(computation.task)
        self._live[session.result_id] = computation
        self.started += 1
        return computation

    @contextmanager
    def watching(self, computation: Computation) -> Iterator[Computation]:
        """Count a viewer for the duration; the last viewer to leave an unfinished computation cancels it.

        What a viewer is looking at, and the run behind it, stay stored meanwhile, however small the store's cap."""
        computation.viewers += 1
        self._store.acquire(computation.result_id, computation.run_id)
        try:
            yield computation
        finally:
            self._store.release(computation.result_id, computation.run_id)
            computation.viewers -= 1
            if computation.viewers == 0 and not computation.finished and computation.task is not None:
                # Unlisted at once: a request arriving while the task unwinds starts afresh.
                self._unlist(computation)
                computation.task.cancel()

    def _unlist(self, computation: Computation) -> None:
        if self._live.get(computation.result_id) is computation:
            del self._live[computation.result_id]

    # ------------------------------------------------------------------ the work

    def _executor_of(self, session: ChainSession) -> SampleExecutor:
        """Where ``session``'s chunks run: point streams on the configured executor, image streams here."""
        return self._executor if isinstance(session, SampleSession) else self._here

    async def _advance(self, session: ChainSession) -> list[dict[str, Any]]:
        """One chunk (the executor's); the gate counts it so tests can see work stop."""
        self._gate.chunk_started()
        before = session.steps_done
        try:
            return await self._executor_of(session).advance(session, self._chunk_steps)
        finally:
            self._gate.chunk_finished(session.steps_done - before)

    async def _produce(self, computation: Computation, session: ChainSession, meta: dict[str, Any],
                       place: Place) -> None:
        gate, executor = self._gate, self._executor_of(session)
        # Streams on this machine take turns for its cores; on a cluster its scheduler does that.
        turn = gate.compute if executor.shares_cpu else _no_turn
        try:
            await place.active()  # at once, unless every active place was taken: then in arrival order
            first = True  # its first chunk (the x_T frame) goes before the others' chunks: a first frame at once
            while not session.finished:
                # A worker slot is held per chunk: streams take turns (round robin, a new stream's first chunk
                # first), and no viewer's pace holds a slot.
                async with turn(first=first):
                    frames = await self._advance(session)
                first = False
                if frames:
                    await computation.append(*(encoded(EVENT_FRAME, frame) for frame in frames))
            async with turn():
                arrays = await executor.arrays(session, meta)
            computation.arrays = arrays
            await computation.append(encoded(EVENT_RESULT, arrays.result()))
            # Stored before `done`: a client that saw `done` may share the permalink at once.
            run = StoredRun(session.kind, session.config_json)
            await asyncio.to_thread(self._persist, arrays, computation, run)
            await computation.append(encoded(EVENT_DONE, {}), finished=True)
            self.remember(computation)
        except asyncio.CancelledError:
            log.info("sampling %s cancelled: no viewer left", computation.result_id)
            computation.finished = computation.failed = True  # no await here: the task is being cancelled
            raise
        except Exception as exc:  # a failure mid-stream can only be reported in-band
            log.exception("sampling %s failed", computation.result_id)
            message = f"sampling failed: {type(exc).__name__}: {exc}"
            await computation.append(encoded(EVENT_ERROR, {"message": message}), finished=True, failed=True)
        finally:
            executor.discard(session)
            self._unlist(computation)

    def _persist(self, arrays: StreamResult, computation: Computation, run: StoredRun) -> None:
        """Write the npz and its row; a full disk costs the permalink, never the stream."""
        try:
            save_any_result(self._store.result_path(computation.result_id), arrays, run)
            self._store.add_result(computation.result_id, computation.run_id,
                                   json.dumps(computation.params, sort_keys=True))
        except OSError:
            log.exception("could not store result %s", computation.result_id)


def new_session(key: str, run: RunRecord, model: AnyModel, request: SampleRequest,
                threads: Callable[[], int], image_threads: int) -> ChainSession:
    """The session of the run's family: an image run's (its model is an ``ImageModel``) or a point run's."""
    if isinstance(model, ImageModel):
        return ImageSession(key, run.run_id, run.kind, model, request,
                            threads=lambda: min(threads(), image_threads))
    return SampleSession(key, run.run_id, run.kind, model, request, threads=threads)
