"""Dependencies: every lookup and admission check a route needs, done before any response starts.

An ``HTTPException`` raised inside an SSE generator arrives as 200 with an empty body (the headers
are already sent), so 404/409/422/429 all live here. FastAPI solves them in declaration order,
which gives the documented precedence: unknown run (404), then not done (409), then bad
parameters (422), then too busy (429).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ..diffusion.checkpoint import CheckpointError
from ..diffusion.config import SamplerConfig
from ..gaussian.datasets import mixture_spec
from ..jobs.analysis import AnalysisRunner
from ..jobs.executor import Executor
from ..jobs.training import JobRunner
from ..settings import Settings
from ..shapes.config import ShapesConfig
from ..shapes.presets import SHAPES_SAMPLING
from ..store import ResultRecord, RunRecord, Store, is_run_id
from ..streaming.admission import SamplingGate
from ..streaming.denoisers import DenoiserCache, LoadedModel
from ..streaming.families import parse_config
from ..streaming.results import ResultDamaged
from ..streaming.sample_session import SampleRequest
from ..streaming.sharing import Computation, ComputationRegistry, TooBusy
from .schemas import SampleQuery
from .stored_config import UnusableConfig, run_config


def app_state(name: str) -> Callable[[Request], Any]:
    """A dependency giving ``request.app.state.<name>``, the shared objects ``create_app`` sets up once."""
    def get(request: Request) -> Any:
        return getattr(request.app.state, name)
    get.__name__ = f"get_{name}"
    return get


SettingsDep = Annotated[Settings, Depends(app_state("settings"))]
StoreDep = Annotated[Store, Depends(app_state("store"))]
RunnerDep = Annotated[JobRunner, Depends(app_state("runner"))]
GateDep = Annotated[SamplingGate, Depends(app_state("gate"))]
CacheDep = Annotated[DenoiserCache, Depends(app_state("denoisers"))]
RegistryDep = Annotated[ComputationRegistry, Depends(app_state("computations"))]
ExecutorDep = Annotated[Executor, Depends(app_state("executor"))]
AnalysisDep = Annotated[AnalysisRunner, Depends(app_state("analysis"))]


def field_error(loc: tuple[str, ...], limit: int, value: Any) -> RequestValidationError:
    """A 422 shaped exactly like pydantic's own ``le`` errors, for limits only known at run time."""
    return RequestValidationError([{
        "type": "less_than_equal", "loc": loc, "msg": f"Input should be less than or equal to {limit}",
        "input": value, "ctx": {"le": limit},
    }])


# ---------------------------------------------------------------------------- runs


def load_model(cache: DenoiserCache, run: RunRecord) -> LoadedModel:
    """A Gaussian run's denoiser (blocking: call in a thread); 409 when its model file is missing or damaged, or
    the run is an image run (these views are the Gaussian family's)."""
    try:
        model = cache.get(run)
    except CheckpointError as exc:
        raise HTTPException(409, f"run {run.run_id} has no usable model file ({exc})") from exc
    if not isinstance(model, LoadedModel):
        raise HTTPException(409, f"run {run.run_id} is an image run; this view is for Gaussian-mixture runs")
    return model


def existing_run(run_id: str, store: StoreDep) -> RunRecord:
    """404 for anything that is not a known run id (never 422: malformed ids are just unknown ids); 409 for a
    run whose stored config this version rejects."""
    record = store.get(run_id) if is_run_id(run_id) else None
    if record is None:
        raise HTTPException(404, f"no run {run_id[:40]!r}")
    try:
        run_config(record)  # an older version's record may hold values today's rules reject (NaN means)
    except UnusableConfig as exc:
        raise HTTPException(409, str(exc)) from exc
    return record


RunDep = Annotated[RunRecord, Depends(existing_run)]


def finished_run(run: RunDep) -> RunRecord:
    if run.status != "done":
        raise HTTPException(409, f"run {run.run_id} is {run.status}; sampling needs a finished (done) run")
    return run


DoneRunDep = Annotated[RunRecord, Depends(finished_run)]


# ---------------------------------------------------------------------------- sample stream


def sample_request(run: DoneRunDep, query: Annotated[SampleQuery, Query()], settings: SettingsDep) -> SampleRequest:
    """The query against this server's limits and this run's T (an image run's: its chain length); 422 names the
    field and the limit."""
    config = parse_config(run.config_json)
    if isinstance(config, ShapesConfig):
        return image_request(query, config, settings)
    dim, T = mixture_spec(config.data).dim, config.schedule.T
    if query.n > settings.max_sample_n:
        raise field_error(("query", "n"), settings.max_sample_n, query.n)
    if query.steps is not None and query.steps != T:
        raise value_error("steps", f"a Gaussian run samples its whole chain: leave steps out or set it to T = {T}",
                          query.steps)
    return checked_request(query, settings, steps=None, chain=T, dim=dim)


def image_request(query: SampleQuery, config: ShapesConfig, settings: Settings) -> SampleRequest:
    """An image run's request: n within the image limit, a chain length that divides T, frames within it. Fields
    the query leaves out take ``SHAPES_SAMPLING``'s values (frames and window cut to the chain)."""
    T, default = config.schedule.T, SHAPES_SAMPLING
    steps = default.steps if query.steps is None else query.steps
    given = query.model_fields_set  # fields left out get the image defaults, not the point stream's (n = 2000)
    defaults = {"n": default.n, "seed": default.seed, "sampler": default.sampler, "eta": default.eta,
                "frames": min(default.frames, steps + 1), "window": min(default.window, steps)}
    query = query.model_copy(update={k: v for k, v in defaults.items() if k not in given})
    if query.n > settings.max_image_n:
        raise field_error(("query", "n"), settings.max_image_n, query.n)
    if steps > T or T % steps:
        divisors = [d for d in range(1, T + 1) if T % d == 0]
        allowed = ", ".join(str(d) for d in [d for d in divisors if d >= 10] or divisors)
        raise value_error("steps", f"steps must divide the run's T = {T} (e.g. {allowed})", steps)
    if query.frames > steps + 1:
        raise field_error(("query", "frames"), steps + 1, query.frames)
    return checked_request(query, settings, steps=steps, chain=steps, dim=config.data.resolution ** 2)


def checked_request(query: SampleQuery, settings: Settings, *, steps: int | None, chain: int,
                    dim: int) -> SampleRequest:
    """The checks both families share: frames, the window within the ``chain`` sampled, the x̂0 window's size, η."""
    if query.frames > settings.max_frames:
        raise field_error(("query", "frames"), settings.max_frames, query.frames)
    if query.window > chain:
        raise field_error(("query", "window"), chain, query.window)
    if query.n * query.window * dim > settings.max_x0_values:
        limit = settings.max_x0_values // (query.n * dim)
        raise field_error(("query", "window"), max(limit, 0), query.window)
    if query.sampler == "ddpm" and query.eta != 0:
        raise value_error("eta", "eta is only used by the ddim sampler; leave it at 0 for ddpm", query.eta)
    try:
        sampler = SamplerConfig(sampler=query.sampler, eta=query.eta, n=query.n, seed=query.seed, window=query.window)
    except ValidationError as exc:  # cannot happen while SampleQuery mirrors SamplerConfig's bounds
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from exc
    return SampleRequest(sampler=sampler, frames=query.frames, steps=steps)


def value_error(field: str | tuple[str | int, ...], message: str, value: Any) -> RequestValidationError:
    """A 422 for a rule that is not a plain bound, naming the field: a query field's name, or a full location."""
    loc = ("query", field) if isinstance(field, str) else field
    return RequestValidationError([{"type": "value_error", "loc": loc, "input": value, "msg": message}])


SampleRequestDep = Annotated[SampleRequest, Depends(sample_request)]


class Busy(HTTPException):
    """429 whose JSON body also says where the client stands: ``{"detail", "ahead", "eta_s"}`` (app.http_error)."""

    def __init__(self, detail: str, retry_after: int, **standing: Any):
        super().__init__(429, detail, headers={"Retry-After": str(retry_after)})
        self.standing = standing


async def sample_feed(run: DoneRunDep, request: SampleRequestDep, registry: RegistryDep,
                      store: StoreDep) -> AsyncIterator[Computation]:
    """The computation to follow (``ComputationRegistry.open``): 409 when the run's model file is
    unusable, 429 when a new computation finds the gate full. The viewer is counted, and the run and
    the result it makes stay stored, until the request ends, however it ends (see ``ComputationRegistry``)."""
    await asyncio.to_thread(store.touch, run.run_id)
    try:
        computation = await registry.open(run, request)
    except TooBusy as exc:
        raise Busy(f"too many sample streams at once: {exc.standing['message']}", exc.retry_after,
                   ahead=exc.standing["ahead"], eta_s=exc.standing["eta_s"]) from exc
    except CheckpointError as exc:
        raise HTTPException(409, f"run {run.run_id} has no usable model file ({exc})") from exc
    with registry.watching(computation):  # no await between obtaining and counting the viewer
        yield computation


SampleFeedDep = Annotated[Computation, Depends(sample_feed)]


# ---------------------------------------------------------------------------- stored results


async def existing_result(result_id: str, store: StoreDep, registry: RegistryDep) -> Computation:
    """404 for ids never produced (or not ids at all); 410 for results evicted or damaged on disk.

    Concurrent requests for a stored result share one load of its file (``registry.obtain``)."""
    if not is_run_id(result_id):
        raise HTTPException(404, f"no result {result_id[:40]!r}")

    async def load() -> Computation:
        record = await asyncio.to_thread(store.get_result, result_id)
        if record is not None and record.evicted_at is not None:
            raise HTTPException(410, await asyncio.to_thread(evicted_message, store, record))
        try:
            computation = await registry.stored(result_id, forget_damaged=False)
        except ResultDamaged as exc:
            raise HTTPException(410, f"result {result_id} cannot be replayed: {exc}") from exc
        if computation is None:
            raise HTTPException(404, f"no result {result_id}")
        return computation

    with store.hold(result_id):  # not evicted between reading its row and reading its file
        computation = registry.find(result_id) or await registry.obtain(result_id, load)
        await asyncio.to_thread(store.touch_result, result_id)
    return computation


def evicted_message(store: Store, record: ResultRecord) -> str:
    """Why an evicted result is gone and what to do now; never points to a run that is gone too."""
    params = json.loads(record.params_json)
    settings = ", ".join(f"{k}={params[k]}" for k in ("sampler", "eta", "n", "seed", "window", "frames", "steps")
                         if k in params)
    gone = (f"result {record.result_id} is no longer stored (evicted {record.evicted_at} to keep the store "
            "under its size cap)")
    again = f"sample it again with the same settings ({settings}) for the same numbers"
    if store.get(record.run_id) is not None:
        return f"{gone}; open its run at /run/{record.run_id} and {again}"
    if store.evicted_run(record.run_id) is not None:
        return (f"{gone}, and so was the model that made it; /run/{record.run_id} opens its config in the lab: "
                f"train it again (same config, same model), then {again}")
    return f"{gone}, and so was the model that made it; train a model on the same config, then {again}"


ResultDep = Annotated[Computation, Depends(existing_result)]


async def result_viewer(computation: ResultDep, registry: RegistryDep) -> AsyncIterator[Computation]:
    with registry.watching(computation):
        yield computation


ResultViewerDep = Annotated[Computation, Depends(result_viewer)]
