"""Stored sampling results: metadata, an SSE replay with the stream's own events, and exports.

A result id is a content hash (``server.streaming.results.result_id``), so these routes never compute: they
follow a computation still running, or replay one kept in memory or stored as npz.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ...streaming.artifacts import AnyCsvTable, WrongTable, any_csv, any_npz_bytes, csv_tables
from ...streaming.image_results import StreamResult
from ...streaming.sharing import Computation
from ..deps import ResultDep, ResultViewerDep, RunDep
from ..schemas import ResultLinks, ResultView, responses

router = APIRouter(prefix="/api", tags=["results"])


def result_view(computation: Computation) -> ResultView:
    rid = computation.result_id
    base = f"/api/results/{rid}"
    links = ResultLinks(page=f"/r/{rid}", events=f"{base}/events", npz=f"{base}/export.npz",
                        csv=f"{base}/export.csv", config=f"/api/runs/{computation.run_id}/config.json")
    return ResultView(result_id=rid, run_id=computation.run_id, kind=computation.kind,  # type: ignore[arg-type]
                      family=computation.family, status=computation.status, params=computation.params, links=links)  # type: ignore[arg-type]


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _finished_arrays(computation: Computation) -> StreamResult:
    if computation.arrays is None:
        raise HTTPException(409, f"result {computation.result_id} is {computation.status}; export it once done")
    return computation.arrays


@router.get("/results/{result_id}", name="get_result", responses=responses(404, 410))
def get_result(computation: ResultDep) -> ResultView:
    """What produced a result (run and sampler parameters), its status and its links."""
    return result_view(computation)


@router.get("/results/{result_id}/events", name="result_events", response_class=EventSourceResponse,
            responses=responses(404, 410))
async def result_events(computation: ResultViewerDep) -> AsyncIterator[ServerSentEvent]:
    """The sample stream's events (`meta`, `frame`…, `result`, `done`), replayed from the stored result,
    or followed live while it is still computing."""
    async for event in computation.follow():
        yield event


@router.get("/results/{result_id}/export.npz", name="export_result_npz", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}, **responses(404, 409, 410)})
async def export_npz(computation: ResultDep) -> Response:
    """The stored result as npz (numeric arrays + two JSON strings; np.load(..., allow_pickle=False))."""
    data = await asyncio.to_thread(any_npz_bytes, _finished_arrays(computation))
    return Response(data, media_type="application/octet-stream",
                    headers=_attachment(f"modelab-result-{computation.result_id}.npz"))


@router.get("/results/{result_id}/export.csv", name="export_result_csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, **responses(404, 409, 410, 422)})
async def export_csv_table(computation: ResultDep, table: AnyCsvTable | None = None) -> Response:
    """One table as CSV. A point result: `particles` (final samples, labels, scores; the default), `frames` (every
    streamed frame), or `x0_last` (x̂0 over the detector's window). An image result: `images` (per image its label,
    reason, counts per column and kind, and variance; the default)."""
    arrays = _finished_arrays(computation)
    try:
        text = await asyncio.to_thread(any_csv, arrays, table)
    except WrongTable as exc:
        raise RequestValidationError([{"type": "value_error", "loc": ("query", "table"), "input": table,
                                       "msg": str(exc)}]) from exc
    name = table or csv_tables(arrays)[0]
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers=_attachment(f"modelab-result-{computation.result_id}-{name}.csv"))


@router.get("/runs/{run_id}/config.json", name="run_config", response_class=Response,
            responses={200: {"content": {"application/json": {}}}, **responses(404)}, tags=["runs"])
def run_config(run: RunDep) -> Response:
    """The run's canonical config (what `POST /api/runs` accepts as `config`), as a download."""
    return Response(run.config_json, media_type="application/json",
                    headers=_attachment(f"modelab-run-{run.run_id}-config.json"))
