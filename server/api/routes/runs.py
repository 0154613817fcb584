"""JSON routes: datasets, presets, runs (create, read, list) and cancelling a run's training job."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from ...catalog import presets as catalog
from ...catalog.views import DatasetView, PresetView
from ...gaussian.config import ExperimentConfig
from ...jobs.training import JobRunner, QueueFull
from ...settings import Settings
from ...store import RunRecord
from ...streaming.encode import finite_or_none
from ...streaming.families import RunConfig, family_of
from ..access import WriteAccess, check_write
from ..budgets import check_training
from ..deps import RunDep, RunnerDep, SettingsDep, StoreDep, field_error
from ..schemas import CancelledView, CreateRun, Metrics, RunEstimate, RunView, responses
from ..stored_config import run_config, usable_runs

router = APIRouter(prefix="/api", tags=["runs"])


def run_view(record: RunRecord, runner: JobRunner | None = None, config: RunConfig | None = None) -> RunView:
    """The stored run, with live status and partial metrics while its job is active (``config``: the
    record's, already read)."""
    state, metrics = record.status, record.metrics
    live = runner.snapshot(record.run_id) if runner is not None and record.active else None
    if live is not None:
        state, metrics = live["status"], live["metrics"]
    config = config or run_config(record)
    return RunView(
        run_id=record.run_id, kind=record.kind, status=state, family=family_of(config), config=config,
        # finite_or_none: a diverged training (or an older version's record) may hold NaN losses.
        metrics=None if metrics is None else Metrics.model_validate(finite_or_none(metrics), strict=False),
        error=record.error, created_at=record.created_at, finished_at=record.finished_at,
    )


def new_training_limits(config: ExperimentConfig, settings: Settings) -> None:
    """422 unless the server may train ``config``: its step limit, then its work budget (``server.budgets``)."""
    if config.train.steps > settings.max_train_steps:
        raise field_error(("body", "config", "train", "steps"), settings.max_train_steps, config.train.steps)
    check_training(config, settings, ("body", "config"))


@router.get("/datasets", name="list_datasets")
def list_datasets() -> list[DatasetView]:
    """The paper's named mixtures, in the units the network sees."""
    return catalog.datasets()


@router.get("/presets", name="list_presets")
def list_presets(request: Request, settings: SettingsDep) -> list[PresetView]:
    """Ready experiments: the exact denoiser, the default CPU recipe and a quick variant of each, and the
    bundled pre-trained models (`ready`, with their `run_id` and the `metrics` of their card)."""
    return catalog.presets(settings, request.app.state.bundled)


@router.post("/runs", name="create_run", status_code=status.HTTP_202_ACCEPTED,
             responses={200: {"model": RunView, "description": "The run already exists (same config, same run)"},
                        **responses(400, 401, 403, 422, 429)})
def create_run(body: CreateRun, request: Request, response: Response, store: StoreDep, runner: RunnerDep,
               settings: SettingsDep) -> RunView:
    """Queue a training job (202), or return the existing run of an identical config (200).

    An oracle run needs no training: it is recorded as done at once. Returning an existing run (done,
    queued or running) is open to all; recording or queueing one needs write access (401/403)."""
    run_id, config = catalog.run_identity(body.kind, body.config)
    known = store.get(run_id)
    if known is None or known.status in ("failed", "cancelled"):
        check_write(request, "creating a run")
    if body.kind == "oracle":
        record = known
        if record is None:
            record = store.put(run_id, "oracle", config.canonical_json(), "done")
            response.status_code = status.HTTP_202_ACCEPTED
        else:
            response.status_code = status.HTTP_200_OK
        return run_view(record)
    # The step limit and the budget bound new training only: a finished run (a bundled paper-recipe model) is
    # answered as is.
    if known is None or known.status != "done":
        new_training_limits(config, settings)
    try:
        record, queued = runner.submit(run_id, config)
    except QueueFull as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc
    response.status_code = status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK
    return run_view(record, runner)


@router.post("/runs/estimate", name="estimate_run", responses=responses(400, 422))
def estimate_run(body: CreateRun, store: StoreDep, runner: RunnerDep, settings: SettingsDep) -> RunEstimate:
    """What ``POST /runs`` with this body would do, starting nothing: the run id, the existing run's
    status (``null``: a new training job), and a new job's steps and expected seconds (measured
    seconds per sample-step of finished jobs × steps × batch, scaled by the net's size)."""
    run_id, config = catalog.run_identity(body.kind, body.config)
    if body.kind == "oracle":  # nothing to train: recorded as done when posted
        return RunEstimate(run_id=run_id, status="done", steps=0, seconds=0.0)
    existing, job = store.get(run_id), runner.job(run_id)
    if job is not None or (existing is not None and existing.status == "done"):  # posting it joins or answers it
        return RunEstimate(run_id=run_id, status=job.status if job else "done", steps=config.train.steps,  # type: ignore[arg-type]
                           seconds=0.0)
    new_training_limits(config, settings)
    return RunEstimate(run_id=run_id, status=None, steps=config.train.steps, seconds=round(runner.estimate(config), 1))


@router.get("/runs", name="list_runs")
def list_runs(store: StoreDep, runner: RunnerDep) -> list[RunView]:
    """The 50 most recent runs, newest first (runs stored with a config this version rejects are left out)."""
    return [run_view(record, runner, config) for record, config in usable_runs(store.recent(50))]


@router.get("/runs/{run_id}", name="get_run", responses=responses(404, 422))
def get_run(run: RunDep, runner: RunnerDep) -> RunView:
    """A run's config, status and metrics (partial while training). Reading a run counts as watching
    its job (a job nobody watches for `unwatched_job_seconds` is cancelled)."""
    runner.touch(run.run_id)
    return run_view(run, runner)


@router.delete("/runs/{run_id}/job", name="cancel_job", responses=responses(401, 403, 404, 409, 422))
def cancel_job(_: WriteAccess, run: RunDep, runner: RunnerDep) -> CancelledView:
    """Cancel a queued or running training job."""
    if not runner.cancel(run.run_id):
        raise HTTPException(409, f"run {run.run_id} has no queued or running job (it is {run.status})")
    return CancelledView(run_id=run.run_id, status="cancelled")
