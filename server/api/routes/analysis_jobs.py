"""The /analysis page's jobs: sweeps and recursive training (``server.jobs.analysis`` runs them).

* ``POST /api/analysis/sweeps`` and ``POST /api/analysis/recursive`` — queue a job (202) or return the same one (200);
* ``GET /api/analysis/jobs/{job_id}``, ``GET …/events`` (SSE), ``DELETE /api/analysis/jobs/{job_id}``.

Every check (404 unknown, 422 parameters) lives in a dependency and a full queue answers 429, all before
any stream starts. Protocol: docs/protocol.md, "Analysis".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le, MaxLen, MinLen
from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import Field, ValidationError

from ...analysis.recursive import FILTERS, RECURSIVE_WINDOW, generation_draws, recursive_cost
from ...analysis.sweeps import SweepParam, parse_value, sweep_cost, sweep_points
from ...diffusion.config import SamplerConfig, SamplerKind, TrainConfig
from ...gaussian.config import DataConfig, ExperimentConfig
from ...jobs.analysis import AnalysisJob, AnalysisQueueFull, AnalysisRunner, recursive_job, sweep_job
from ...settings import (
    MAX_BENCH_WINDOW,
    MAX_GENERATIONS,
    MAX_JOB_SAMPLES,
    MAX_SWEEP_POINTS,
    MAX_SWEEP_SEEDS,
    MAX_SWEEP_VALUES,
    Settings,
)
from ...streaming.encode import EVENT_DONE, EVENT_ERROR, sse
from ..access import WriteAccess
from ..budgets import check_job, step_drivers
from ..deps import AnalysisDep, SettingsDep, field_error, value_error
from ..request_fields import sampler_field
from ..schemas import ETA_RULE, LID_RULE, ApiModel, responses

router = APIRouter(tags=["analysis"])

ANALYSIS_QUEUE = 4


class JobSampler(ApiModel):
    sampler: SamplerKind = sampler_field("sampler")
    eta: float = sampler_field("eta", description=ETA_RULE)
    n: int = sampler_field("n", ge=20, le=MAX_JOB_SAMPLES)
    seed: int = sampler_field("seed", default=1)
    window: int = sampler_field("window", le=MAX_BENCH_WINDOW)


class SweepRequest(ApiModel):
    base: ExperimentConfig = ExperimentConfig()
    sampler: JobSampler = JobSampler()
    param: SweepParam
    values: Annotated[list[int | float | str], MinLen(1), MaxLen(MAX_SWEEP_VALUES), Field(
        description="values of `param`, each once, each valid for it (an integer for T, steps, width, n_train…); "
                    f"values × seeds at most {MAX_SWEEP_POINTS} points, each within the server's max_train_steps",
        json_schema_extra={"uniqueItems": True})]
    seeds: Annotated[list[Annotated[int, Ge(0), Le(2**31 - 1)]], MinLen(1), MaxLen(MAX_SWEEP_SEEDS),
                     Field(description="training seeds, each once", json_schema_extra={"uniqueItems": True})] = [0]


class RecursiveRequest(ApiModel):
    # N = 2,000 per generation (the page's default): the drawn samples stay within MAX_JOB_SAMPLES.
    config: ExperimentConfig = ExperimentConfig(data=DataConfig(n=2000), train=TrainConfig(steps=1500, batch=1024))
    sampler: JobSampler = JobSampler(window=RECURSIVE_WINDOW)  # the variance filter's K (see recursive.py)
    generations: Annotated[int, Ge(1), Le(MAX_GENERATIONS)] = 3
    filters: Annotated[list[Literal["none", "random", "variance", "lid", "oracle"]], MinLen(1),
                       MaxLen(len(FILTERS)),
                       Field(description="each filter once", json_schema_extra={"uniqueItems": True})] = [
        "variance", "random"]
    oversample: Annotated[float, Ge(0), Le(1)] = 0.025
    lid_draws: Annotated[int, Ge(2), Le(32), Field(description=LID_RULE, multiple_of=2)] = 8
    scatter_points: Annotated[int, Ge(0), Le(2000)] = 600


class JobView(ApiModel):
    job_id: str
    kind: Literal["sweep", "recursive"]
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    done: int
    total: int
    cached: int
    current: str
    step: int
    steps: int
    elapsed: float
    request: dict[str, Any]
    partial: list[dict[str, Any]]
    result: dict[str, Any] | None
    error: str | None


# ---------------------------------------------------------------------------- dependencies


def _train_steps_limit(settings: Settings, steps: int, loc: tuple[str, ...]) -> None:
    if steps > settings.max_train_steps:
        raise field_error(loc, settings.max_train_steps, steps)


def _sampler_config(sampler: JobSampler, loc: tuple[str, ...]) -> SamplerConfig:
    try:
        return SamplerConfig.model_validate(sampler.model_dump())
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": (*loc, *e["loc"])} for e in exc.errors()]) from exc


def sweep_submission(body: SweepRequest, settings: SettingsDep, analysis: AnalysisDep) -> AnalysisJob:
    """422 for a value the parameter or the config models reject, too many points or steps."""
    values: list[Any] = []
    for i, raw in enumerate(body.values):
        try:
            values.append(parse_value(body.param, str(raw)))
        except ValueError as exc:
            raise value_error(("body", "values", i), str(exc).removeprefix("values: "), raw) from exc
    if len(set(map(str, values))) != len(values):
        raise value_error(("body", "values"), "give each value once", body.values)
    if len(set(body.seeds)) != len(body.seeds):
        raise value_error(("body", "seeds"), "give each seed once", body.seeds)
    if len(values) * len(body.seeds) > MAX_SWEEP_POINTS:
        raise value_error(("body", "values"), f"values × seeds must be at most {MAX_SWEEP_POINTS} points, "
                                               f"got {len(values) * len(body.seeds)}", body.values)
    sampler = _sampler_config(body.sampler, ("body", "sampler"))
    try:
        points = sweep_points(body.base, sampler, body.param, values, body.seeds)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", "values", *e["loc"])} for e in exc.errors()]) from exc
    for point in points:
        steps = point.config.train.steps
        if body.param == "n_train_epochs" and steps > settings.max_train_steps:
            raise value_error(("body", "values", values.index(point.value)),
                               f"N = {point.value} at the base's epochs needs {steps} training steps; this server "
                               f"trains at most {settings.max_train_steps}", point.value)
        _train_steps_limit(settings, steps, ("body", "values" if body.param == "steps" else "base", "train", "steps"))
    width_swept = body.param == "width"  # then the values set each step's cost, else the base's batch does
    check_job(sweep_cost(points), settings, what="this sweep", loc=("body", "values"),
              drivers="the values × seeds, base.train.steps, base.train.batch, base.net.width, base.schedule.T "
                      "or sampler.n", value=body.values,
              step_loc=("body", "values") if width_swept else ("body", "base", "train", "batch"),
              step_drivers=step_drivers("base."), step_value=body.values if width_swept else body.base.train.batch)
    request = body.model_dump(mode="json")
    request["values"] = values
    return sweep_job(analysis, request, body.base, sampler, body.param, values, list(body.seeds))


def recursive_submission(body: RecursiveRequest, settings: SettingsDep) -> AnalysisJob:
    if len(set(body.filters)) != len(body.filters):
        raise value_error(("body", "filters"), "give each filter once", body.filters)
    _train_steps_limit(settings, body.config.train.steps, ("body", "config", "train", "steps"))
    sampler = _sampler_config(body.sampler, ("body", "sampler"))
    n_keep, n_draw = generation_draws(body.config, body.oversample)
    if n_draw > MAX_JOB_SAMPLES:  # the published per-job sample cap (limits.max_job_samples)
        raise value_error(("body", "config", "data", "n"),
                           f"each generation draws N·(1 + oversample) = {n_draw} samples (N = {n_keep}); this "
                           f"server draws at most {MAX_JOB_SAMPLES} per sampling: lower config.data.n or oversample",
                           n_keep)
    cost = recursive_cost(body.config, generations=body.generations, filters=body.filters,
                          oversample=body.oversample, lid_draws=body.lid_draws)
    check_job(cost, settings, what="this recursive run", loc=("body", "generations"),
              drivers="generations, filters, config.train.steps, config.train.batch, config.net.width, "
                      "config.data.n or config.schedule.T", value=body.generations,
              step_loc=("body", "config", "train", "batch"),
              step_drivers=step_drivers("config."),
              step_value=body.config.train.batch)
    return recursive_job(body.model_dump(mode="json"), body.config, sampler, generations=body.generations,
                         filters=list(body.filters), oversample=body.oversample, lid_draws=body.lid_draws,
                         scatter_points=body.scatter_points)


def existing_job(job_id: str, analysis: AnalysisDep) -> dict[str, Any]:
    view = analysis.view(job_id) if len(job_id) == 16 and all(c in "0123456789abcdef" for c in job_id) else None
    if view is None:
        raise HTTPException(404, f"no analysis job {job_id[:40]!r}")
    return view


JobDep = Annotated[dict[str, Any], Depends(existing_job)]


# ---------------------------------------------------------------------------- jobs


def _submit(analysis: AnalysisRunner, job: AnalysisJob, response: Response) -> JobView:
    try:
        view, queued = analysis.submit(job)
    except AnalysisQueueFull as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc
    response.status_code = status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK
    return JobView.model_validate(view, strict=False)


@router.post("/api/analysis/sweeps", name="create_sweep", status_code=status.HTTP_202_ACCEPTED,
             responses={200: {"model": JobView, "description": "The same sweep is running or stored"},
                        **responses(400, 401, 403, 422, 429)})
def create_sweep(_: WriteAccess, job: Annotated[AnalysisJob, Depends(sweep_submission)], analysis: AnalysisDep,
                 response: Response) -> JobView:
    """Queue a sweep (202), or return the same sweep's job (200: running, or done from the store)."""
    return _submit(analysis, job, response)


@router.post("/api/analysis/recursive", name="create_recursive", status_code=status.HTTP_202_ACCEPTED,
             responses={200: {"model": JobView, "description": "The same run is running or stored"},
                        **responses(400, 401, 403, 422, 429)})
def create_recursive(_: WriteAccess, job: Annotated[AnalysisJob, Depends(recursive_submission)], analysis: AnalysisDep,
                     response: Response) -> JobView:
    """Queue a recursive-training run (202), or return the same run's job (200)."""
    return _submit(analysis, job, response)


@router.get("/api/analysis/jobs/{job_id}", name="get_analysis_job", responses=responses(404))
def get_job(job: JobDep) -> JobView:
    """A job's status, progress, finished units (``partial``) and, when done, its ``result``."""
    return JobView.model_validate(job, strict=False)


@router.delete("/api/analysis/jobs/{job_id}", name="cancel_analysis_job", responses=responses(401, 403, 404, 409))
def cancel_job(_: WriteAccess, job: JobDep, analysis: AnalysisDep) -> dict[str, str]:
    """Cancel a queued or running job (finished points stay cached)."""
    if not analysis.cancel(job["job_id"]):
        raise HTTPException(409, f"analysis job {job['job_id']} is {job['status']}; nothing to cancel")
    return {"job_id": job["job_id"], "status": "cancelled"}


@router.get("/api/analysis/jobs/{job_id}/events", name="analysis_job_events", response_class=EventSourceResponse,
            responses=responses(404))
async def job_events(job: JobDep, analysis: AnalysisDep) -> AsyncIterator[ServerSentEvent]:
    """Units finished so far (``point`` / ``generation``), ``progress`` events, then ``done`` (the job view)
    or ``error`` {message}. A finished job: ``done`` at once."""
    queue = analysis.subscribe(job["job_id"])
    if queue is None:
        final = analysis.view(job["job_id"]) or job
        if final["status"] == "failed":
            yield sse(EVENT_ERROR, {"message": final.get("error") or "analysis job failed", "status": "failed"})
        else:
            yield sse(EVENT_DONE, final)
        return
    async with aclosing(analysis.follow(job["job_id"], queue)) as events:
        async for event in events:
            yield event
