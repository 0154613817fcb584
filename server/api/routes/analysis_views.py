"""The /analysis page and its on-demand views (issue #5: why interpolation happens and how to catch it).

* ``GET /analysis`` — the page, with everything it needs before its first request in the bootstrap;
* ``GET /api/analysis/runs/{run_id}/mechanism`` — learned vs exact E[x0|x_t] and ε at one t;
* ``GET /api/analysis/runs/{run_id}/detectors`` — the detector bench on one set of samples.

A view is computed in a worker thread, at most ``ComputeGate``'s limit at once (else 429), and cached
by its content; the sweeps and recursive runs are jobs (``analysis_jobs.py``). Every check (404
unknown, 409 not done or not a Gaussian run, 422 parameters) lives in a dependency. Protocol:
docs/protocol.md, "Analysis".
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from jinja2 import TemplateNotFound
from pydantic import Field

from ...analysis.detector_bench import bench_cost
from ...analysis.mechanism import mechanism_cost
from ...analysis.recursive import FILTERS, RECURSIVE_WINDOW
from ...analysis.sweeps import SWEEP_PARAMS
from ...catalog import presets as catalog
from ...catalog.plotly_asset import plotly_url
from ...diffusion.cancel import Cancelled
from ...diffusion.config import SamplerConfig, SamplerKind
from ...gaussian.config import ExperimentConfig
from ...gaussian.datasets import mixture_spec
from ...jobs.analysis import EVENT_GENERATION, EVENT_POINT, AnalysisRunner, content_id, detector_view, mechanism_view
from ...settings import MAX_BENCH_N, MAX_BENCH_WINDOW, MAX_CURVE_POINTS, MAX_MAP, Settings
from ...streaming.encode import EVENT_NAMES
from ...streaming.families import parse_config
from ..budgets import check_view
from ..deps import (
    AnalysisDep,
    CacheDep,
    DoneRunDep,
    SettingsDep,
    StoreDep,
    app_state,
    field_error,
    load_model,
    value_error,
)
from ..request_fields import sampler_field
from ..schemas import ETA_RULE, LID_RULE, QueryModel, responses
from ..stored_config import gaussian_runs

router = APIRouter(tags=["analysis"])

RETRY_AFTER = 5
DISCONNECT_POLL = 0.25  # seconds between checks that a view's client is still there


class MechanismQuery(QueryModel):
    t: Annotated[int, Ge(0), Le(3999), Field(description="timestep; at most the run's T − 1")] = 0
    slopes: bool = True  # include the slope-over-t curve (independent of t; the page asks once)
    n_curve: Annotated[int, Ge(11), Le(MAX_CURVE_POINTS)] = 201
    n_map: Annotated[int, Ge(5), Le(MAX_MAP)] = 41


class DetectorQuery(QueryModel):
    n: int = sampler_field("n", ge=20, le=MAX_BENCH_N)
    seed: int = sampler_field("seed", default=1)
    window: int = sampler_field("window", default=20, le=MAX_BENCH_WINDOW,  # every K in 2 … window is scored
                                description="the largest window K scored; at most the run's T")
    sampler: SamplerKind = sampler_field("sampler")
    eta: float = sampler_field("eta", description=ETA_RULE)
    lid_draws: Annotated[int, Ge(2), Le(32), Field(description=LID_RULE, multiple_of=2)] = 8


# ---------------------------------------------------------------------------- dependencies


class ComputeGate:
    """Synchronous analysis computations at once (mechanism, detector bench); beyond that, 429."""

    def __init__(self, limit: int):
        self._limit = limit
        self._lock = threading.Lock()
        self.running = 0  # computations whose thread has not ended (tests watch it fall to 0 after a cancel)

    def admit(self) -> bool:
        with self._lock:
            if self.running >= self._limit:
                return False
            self.running += 1
            return True

    def release(self) -> None:
        with self._lock:
            if self.running <= 0:
                raise RuntimeError("ComputeGate released more often than admitted")
            self.running -= 1


ComputeGateDep = Annotated[ComputeGate, Depends(app_state("analysis_gate"))]


def _config(run_config_json: str) -> ExperimentConfig:
    """A Gaussian run's config; 409 for an image run (these views are built for mixtures)."""
    config = parse_config(run_config_json)
    if not isinstance(config, ExperimentConfig):
        raise HTTPException(409, "this view is for Gaussian-mixture runs; the run is an image (Simple Shapes) run")
    return config


def mechanism_query(run: DoneRunDep, query: Annotated[MechanismQuery, Query()],
                    settings: SettingsDep) -> MechanismQuery:
    config = _config(run.config_json)
    T = config.schedule.T
    if query.t > T - 1:
        raise field_error(("query", "t"), T - 1, query.t)
    spec = mixture_spec(config.data)
    cost = mechanism_cost(config.net if run.kind == "trained" else None, spec.dim, len(spec.means), T,
                          slopes=query.slopes, n_curve=query.n_curve, n_map=query.n_map)
    check_view(cost, settings, what="this mechanism view", loc=("query", "n_curve"),
               drivers="n_curve, n_map or slopes (the run's width, depth and T are fixed)", value=query.n_curve)
    return query


def detector_query(run: DoneRunDep, query: Annotated[DetectorQuery, Query()], settings: SettingsDep) -> DetectorQuery:
    config = _config(run.config_json)
    T = config.schedule.T
    if query.window > T:
        raise field_error(("query", "window"), T, query.window)
    if query.sampler == "ddpm" and query.eta != 0:
        raise value_error("eta", "eta is only used by the ddim sampler; leave it at 0 for ddpm", query.eta)
    spec = mixture_spec(config.data)
    trained = run.kind == "trained"
    cost = bench_cost(config.net if trained else None, spec.dim, len(spec.means), T,
                      SamplerConfig(n=query.n, window=query.window), lid_draws=query.lid_draws,
                      n_train=spec.n if trained else None)
    check_view(cost, settings, what="this detector bench", loc=("query", "n"),
               drivers="n or lid_draws (the run's width, depth and T are fixed)", value=query.n)
    return query


async def _computed(request: Request, gate: ComputeGate, analysis: AnalysisRunner, key: str,
                    compute: Callable[[threading.Event], dict[str, Any]]) -> dict[str, Any]:
    """A cached view, or computed in a worker thread under the gate (429 when it is full).

    The computation gets a cancel event, set when the client disconnects (polled every
    ``DISCONNECT_POLL`` s) or the request is cancelled; the gate's place is given back when the
    thread ends, not before, so a cancelled computation never runs beside the next one."""
    cached = await asyncio.to_thread(analysis.views.get, key)
    if cached is not None:
        return {**cached, "cached": True}
    if not gate.admit():
        raise HTTPException(429, "too many analysis computations at once; try again shortly",
                            headers={"Retry-After": str(RETRY_AFTER)})
    cancel = threading.Event()
    try:
        work = asyncio.ensure_future(asyncio.to_thread(compute, cancel))
    except BaseException:
        gate.release()
        raise
    work.add_done_callback(lambda _: gate.release())
    try:
        while not work.done():
            await asyncio.wait({work}, timeout=DISCONNECT_POLL)
            if not work.done() and await request.is_disconnected():
                cancel.set()
        result = work.result()
    except Cancelled as exc:  # the client left: nobody reads this answer
        raise HTTPException(503, "the computation was cancelled") from exc
    except BaseException:
        cancel.set()
        raise
    await asyncio.to_thread(analysis.views.put, key, result)
    return {**result, "cached": False}


# ---------------------------------------------------------------------------- page


@router.get("/analysis", name="analysis_page", response_class=HTMLResponse, tags=["pages"],
            responses={503: {"description": "The page template is not installed"}})
def analysis_page(request: Request, store: StoreDep) -> Response:
    """Why it happens and how to catch it: mechanism, detector bench, sweeps, recursive training."""
    settings: Settings = request.app.state.settings
    bundled_ids = {m.run_id: m.name for m in request.app.state.bundled}
    runs = []
    for record, config in gaussian_runs(store.recent(50)):
        if record.status != "done":
            continue
        name = bundled_ids.get(record.run_id)
        label = f"{config.data.dataset} · {record.kind}" + (f" · {name}" if name else
                                                            f" · {config.train.steps} steps" if record.kind == "trained"
                                                            else "")
        runs.append({"run_id": record.run_id, "kind": record.kind, "label": label, "T": config.schedule.T,
                     "dataset": config.data.dataset})
    boot = {
        "runs": runs,
        "default_run": request.app.state.default_run,
        "datasets": [d.model_dump(mode="json") for d in catalog.datasets()],
        "sweep_params": list(SWEEP_PARAMS),
        "filters": list(FILTERS),
        "limits": settings.analysis_limits(),
        "events": {**EVENT_NAMES, "point": EVENT_POINT, "generation": EVENT_GENERATION},
    }
    try:
        return request.app.state.templates.TemplateResponse(request, "analysis.html",
                                                            {"plotly_src": plotly_url(), "bootstrap": boot,
                                                             "recursive_window": RECURSIVE_WINDOW})
    except TemplateNotFound:
        return PlainTextResponse("the page template (templates/analysis.html) is not installed", status_code=503)


# ---------------------------------------------------------------------------- synchronous views


@router.get("/api/analysis/runs/{run_id}/mechanism", name="analysis_mechanism",
            responses=responses(404, 409, 422, 429))
async def mechanism(request: Request, run: DoneRunDep, query: Annotated[MechanismQuery, Depends(mechanism_query)],
                    cache: CacheDep, gate: ComputeGateDep, analysis: AnalysisDep) -> dict[str, Any]:
    """Learned vs exact denoiser and ε at timestep ``t`` (typed-array curves; 2D: |ε_θ − ε*| map and both
    ε fields), and, with ``slopes``, the slope at the inter-mode midpoints over t."""
    key = content_id("mechanism", {"run": run.run_id, **query.model_dump()})

    def compute(cancel: threading.Event) -> dict[str, Any]:
        return mechanism_view(load_model(cache, run), query.t, slopes=query.slopes, n_curve=query.n_curve,
                              n_map=query.n_map, cancel=cancel)

    return {"run_id": run.run_id, "kind": run.kind, **await _computed(request, gate, analysis, key, compute)}


@router.get("/api/analysis/runs/{run_id}/detectors", name="analysis_detectors",
            responses=responses(404, 409, 422, 429))
async def detectors(request: Request, run: DoneRunDep, query: Annotated[DetectorQuery, Depends(detector_query)],
                    cache: CacheDep, gate: ComputeGateDep, analysis: AnalysisDep) -> dict[str, Any]:
    """Every detector on the same samples: ROC, AUROC, removed at 96% kept; variance at every K ≤ window."""
    sampler = SamplerConfig(sampler=query.sampler, eta=query.eta, n=query.n, seed=query.seed, window=query.window)
    key = content_id("detectors", {"run": run.run_id, **query.model_dump()})

    def compute(cancel: threading.Event) -> dict[str, Any]:
        return detector_view(load_model(cache, run), sampler, lid_draws=query.lid_draws, trained=run.kind == "trained",
                             cancel=cancel)

    return {"run_id": run.run_id, "kind": run.kind, **await _computed(request, gate, analysis, key, compute)}
