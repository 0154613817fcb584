"""SSE routes: a run's training progress and a sampling stream. Async generators only.

All checks happened in the dependencies; a generator only streams, and gives back what it holds
in ``finally`` (a disconnect cancels it at its current ``await``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ..admission import SamplingGate
from ..deps import GateDep, LoadedModelDep, RunDep, RunnerDep, SampleRequestDep, SettingsDep
from ..encode import EVENT_DONE, EVENT_ERROR, EVENT_FRAME, EVENT_META, EVENT_RESULT, error_event, sse
from ..sample_session import SampleSession
from ..schemas import responses
from ..store import RunRecord

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["streams"])


def final_event(record: RunRecord) -> ServerSentEvent:
    if record.status == "failed":
        return error_event(record.error or "training failed", status=record.status)
    return sse(EVENT_DONE, {"status": record.status, "metrics": record.metrics})


@router.get("/runs/{run_id}/events", name="run_events", response_class=EventSourceResponse,
            responses=responses(404, 422))
async def run_events(run: RunDep, runner: RunnerDep) -> AsyncIterator[ServerSentEvent]:
    """`progress` events while queued or training, then `done` {status, metrics} or `error` {message}."""
    queue = runner.subscribe(run.run_id)
    if queue is None:  # finished (or finished between the lookup and now): the store has the outcome
        record = await asyncio.to_thread(runner.store.get, run.run_id)
        yield final_event(record or run)
        return
    try:
        while True:
            event = await queue.get()
            yield event
            if event.event in (EVENT_DONE, EVENT_ERROR):
                return
    finally:
        runner.unsubscribe(run.run_id, queue)


def _advance(session: SampleSession, gate: SamplingGate, steps: int) -> list[dict]:
    """One chunk in a worker thread; the gate counts it so tests can see work stop."""
    gate.chunk_started()
    before = session.steps_done
    try:
        return session.advance(steps)
    finally:
        gate.chunk_finished(session.steps_done - before)


@router.get("/runs/{run_id}/sample", name="sample_stream", response_class=EventSourceResponse,
            responses=responses(404, 409, 422, 429))
async def sample_stream(run: RunDep, request: SampleRequestDep, model: LoadedModelDep, gate: GateDep,
                        settings: SettingsDep) -> AsyncIterator[ServerSentEvent]:
    """`meta`, one `frame` per entry of meta.frame_ts, `result`, then `done` (or `error` and the end)."""
    session = SampleSession(run.run_id, run.kind, model, request, threads=settings.torch_threads)
    yield sse(EVENT_META, session.meta())
    try:
        while not session.finished:
            # The semaphore is held per chunk, never across a `yield`: a slow reader holds no compute slot.
            async with gate.compute():
                frames = await asyncio.to_thread(_advance, session, gate, settings.sample_chunk_steps)
            for frame in frames:
                yield sse(EVENT_FRAME, frame)
        async with gate.compute():
            result = await asyncio.to_thread(session.result)
        yield sse(EVENT_RESULT, result)
        yield sse(EVENT_DONE, {})
    except Exception as exc:  # a failure mid-stream can only be reported in-band
        log.exception("sample stream of %s failed", run.run_id)
        yield error_event(f"sampling failed: {type(exc).__name__}: {exc}")
