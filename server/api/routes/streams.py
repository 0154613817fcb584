"""SSE routes: a run's training progress and a sampling stream. Async generators only.

All checks happened in the dependencies; a generator only streams, and gives back what it holds
in ``finally`` (a disconnect cancels it at its current ``await``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ...store import RunRecord
from ...streaming.encode import EVENT_DONE, error_event, sse
from ..deps import RunDep, RunnerDep, SampleFeedDep
from ..schemas import responses

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["streams"])


def final_event(record: RunRecord) -> ServerSentEvent:
    if record.status == "failed":
        return error_event(record.error or "training failed", status=record.status)
    return sse(EVENT_DONE, {"status": record.status, "metrics": record.metrics})


@router.get("/runs/{run_id}/events", name="run_events", response_class=EventSourceResponse,
            responses=responses(404, 422))
async def run_events(run: RunDep, runner: RunnerDep) -> AsyncIterator[ServerSentEvent]:
    """`progress` events while queued or training, then `done` {status, metrics} or `error` {message}.
    While the stream is open the job counts as watched (one nobody watches is cancelled after a grace period)."""
    queue = runner.subscribe(run.run_id)
    if queue is None:  # finished (or finished between the lookup and now): the store has the outcome
        record = await asyncio.to_thread(runner.store.get, run.run_id)
        yield final_event(record or run)
        return
    async with aclosing(runner.follow(run.run_id, queue)) as events:
        async for event in events:
            yield event


@router.get("/runs/{run_id}/sample", name="sample_stream", response_class=EventSourceResponse,
            responses=responses(404, 409, 422, 429))
async def sample_stream(feed: SampleFeedDep) -> AsyncIterator[ServerSentEvent]:
    """`meta` (with `result_id`), one `frame` per entry of meta.frame_ts, `result`, then `done`
    (or `error` and the end). Identical requests share one computation (see ``server.streaming.sharing``).
    An image run (Simple Shapes) streams the same events with image payloads (docs/protocol.md, "Image runs")."""
    async for event in feed.follow():
        yield event
