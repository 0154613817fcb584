"""The FastAPI application: ``create_app(settings)`` wires settings, store, jobs and routes.

``app = create_app()`` at import only reads the environment; directories, the database, the job
threads and the gzipped plotly.js are made in the lifespan, so importing this module is cheap and
side-effect free.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from .api import methods
from .api.body_limit import BodyLimit
from .api.deps import Busy
from .api.openapi import openapi
from .api.routes import analysis_jobs, analysis_views, api_docs, pages, results, runs, shapes, streams
from .api.security import SecurityHeaders
from .catalog import bundled
from .catalog import presets as catalog
from .catalog.plotly_asset import plotly_asset
from .catalog.reindex import reindex
from .catalog.shapes_views import ShapesViews
from .catalog.warm_up import warm_shapes
from .diffusion import training
from .gaussian import fused, rowtile
from .jobs.analysis import AnalysisRunner
from .jobs.executor import make_executor
from .jobs.sweep_models import StoreModels
from .jobs.training import JobRunner
from .settings import Settings
from .store import Store
from .streaming.admission import SamplingGate
from .streaming.denoisers import DenoiserCache
from .streaming.sharing import ComputationRegistry

MAX_EXCERPT = 100  # characters of an invalid input echoed in a 422
MAX_MESSAGE = 300  # characters of one error message (a custom check may quote the value)


def _operation_id(route: APIRoute) -> str:
    return route.name  # readable ids: list_runs, sample_stream, ...


def _error_line(error: dict[str, Any]) -> str:
    return f"{'.'.join(str(p) for p in error.get('loc', ())) or 'value'}: {error.get('msg', 'invalid')}"


def excerpt(value: Any) -> Any:
    """What a 422 echoes of the input: a JSON scalar as is; anything else (NaN, a list, a whole body, a long
    string) as at most ``MAX_EXCERPT`` characters of its repr, so the answer is always small and valid JSON."""
    if value is None or isinstance(value, bool | int) and abs(value) < 10**15:
        return value
    if isinstance(value, float) and math.isfinite(value) or isinstance(value, str) and len(value) <= MAX_EXCERPT:
        return value
    return _cut(repr(value), MAX_EXCERPT)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's usual 422 body plus ``message``: one readable line per field, naming field and limit.
    The offending ``input`` is cut to a short excerpt (see ``excerpt``)."""
    errors = [{**{k: v for k, v in e.items() if k != "url"}, "input": excerpt(e.get("input")),
               "msg": _cut(str(e.get("msg", "invalid")), MAX_MESSAGE)} for e in exc.errors()]
    detail = jsonable_encoder(errors, custom_encoder={Exception: str, float: excerpt})
    return JSONResponse({"detail": detail, "message": "; ".join(map(_error_line, errors))}, status_code=422)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """FastAPI's usual answer; a 405 lists the methods of every route on the path (the router names only those
    of the first route it tried)."""
    if isinstance(exc, Busy):
        return JSONResponse({"detail": exc.detail, **exc.standing}, exc.status_code, headers=exc.headers)
    if exc.status_code == 405:
        allow = ", ".join(methods.allowed(request.app.router.routes, request.scope))
        exc = HTTPException(405, exc.detail, headers={**(exc.headers or {}), "Allow": allow})
    return await http_exception_handler(request, exc)


def _prepare_defaults(store: Store, settings: Settings) -> tuple[list[bundled.BundledModel], str]:
    """Register the bundled models and pick the run the page opens with: the bundled grid25 model,
    else the grid25 exact denoiser (registered here, pinned, so it always exists)."""
    models = bundled.load(store, settings.models_dir)
    default = bundled.default_model(models)
    if default is not None:
        return models, default.run_id
    run_id, config = catalog.oracle_default()
    record = store.get(run_id)
    if record is None or not record.pinned:
        store.put(run_id, "oracle", config.canonical_json(), "done", pinned=True)
    return models, run_id


def _open_store(settings: Settings) -> tuple[Store, list[bundled.BundledModel], str, list[bundled.BundledShapes]]:
    """The store with every readable artifact indexed (a lost or damaged index is rebuilt from the files,
    see ``server.catalog.reindex``), the bundled models pinned, then the size cap: a rebuilt index does not know
    which runs are bundled until they are registered again, and must not evict them before."""
    store = Store.open(settings.data_dir, settings.db_path)
    reindex(store)
    models, default_run = _prepare_defaults(store, settings)
    shapes = bundled.load_shapes(store, settings.models_dir)
    store.set_cap(settings.max_store_bytes)
    return store, models, default_run, shapes


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store, app.state.bundled, app.state.default_run, app.state.bundled_shapes = await asyncio.to_thread(
            _open_store, settings)
        await asyncio.to_thread(fused.warm_up)  # compile the sampling kernels now, not in the first request
        await asyncio.to_thread(rowtile.warm_up)
        await asyncio.to_thread(training.warm_up)  # torch's optimizer imports, not in the first job's thread
        # In-process, or a Ray cluster when MODELAB_RAY_ADDRESS is set (connecting blocks: not on the loop).
        executor = app.state.executor = await asyncio.to_thread(make_executor, settings, store)
        runner = JobRunner(settings, store, executor)
        runner.start(asyncio.get_running_loop())
        app.state.store, app.state.runner = store, runner
        app.state.analysis = AnalysisRunner(settings.data_dir, slots=1, queue_size=analysis_jobs.ANALYSIS_QUEUE,
                                            threads=settings.torch_threads,
                                            progress_interval=settings.progress_interval,
                                            max_bytes=settings.max_analysis_bytes, models=StoreModels(store),
                                            executor=executor)
        app.state.analysis.start(asyncio.get_running_loop())
        app.state.analysis_gate = analysis_views.ComputeGate(1)
        gate = app.state.gate = SamplingGate(settings.sampling_concurrency, settings.sampling_waiting,
                                             active=settings.sampling_active)
        app.state.denoisers = DenoiserCache(store, settings.model_cache_size)

        def sample_threads() -> int:
            """More threads only while sampling is the machine's only work: all of them for a lone computation,
            an equal share per worker slot when several take turns (slots × threads = the solo count)."""
            if runner.counts()[1]:
                return settings.torch_threads
            if gate.active_streams <= 1:
                return settings.solo_sample_threads
            return max(settings.torch_threads, settings.solo_sample_threads // settings.sampling_concurrency)

        app.state.computations = ComputationRegistry(store, gate, app.state.denoisers, threads=sample_threads,
                                                     chunk_steps=settings.sample_chunk_steps,
                                                     memory_size=settings.result_memory_size,
                                                     memory_bytes=int(settings.result_memory_mb * 1024 * 1024),
                                                     executor=executor, image_threads=settings.image_sample_threads)
        await asyncio.to_thread(plotly_asset)  # read and gzip once, before the first page load
        views = app.state.shapes_views = ShapesViews(settings.data_dir / "shapes", settings.torch_threads)
        warm = asyncio.create_task(warm_shapes(store, app.state.computations, app.state.bundled_shapes, views)
                                   if settings.warm_shapes else asyncio.sleep(0), name="shapes-warm-up")
        try:
            yield
        finally:
            warm.cancel()
            await asyncio.to_thread(app.state.analysis.stop)
            await asyncio.to_thread(runner.stop)
            await asyncio.to_thread(executor.close)
            store.close()

    # /docs is served from the installed Swagger UI (routes/api_docs.py), not FastAPI's CDN page; no /redoc.
    app = FastAPI(title="Mode Interpolation Lab", version="0.1.0", lifespan=lifespan,
                  generate_unique_id_function=_operation_id, docs_url=None, redoc_url=None,
                  description="Train or load small diffusion models on Gaussian mixtures and stream their "
                              "reverse process. Protocol: docs/protocol.md.")
    app.state.settings = settings
    app.openapi = lambda: openapi(app)  # type: ignore[method-assign]
    app.add_middleware(methods.HeadAsGet, routes=app.router.routes)  # the list routes are added to below
    app.add_middleware(BodyLimit, limit_kb=settings.max_body_kb)  # before anything reads a body
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries them, a 413 included
    app.state.templates = Jinja2Templates(directory=str(settings.templates_dir))
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    vendor = pages.APIRouter()
    pages.add_plotly_route(vendor)
    # The vendor route goes before the /static mount, which would otherwise shadow it.
    for router in (vendor, api_docs.router, pages.router, runs.router, streams.router, results.router,
                   analysis_views.router, analysis_jobs.router, shapes.router):
        app.include_router(router)
    if settings.static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    return app


app = create_app()
