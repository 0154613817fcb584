"""JSON routes: datasets, presets, runs (create, read, list) and cancelling a run's training job."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from .. import catalog
from ..deps import RunDep, RunnerDep, SettingsDep, StoreDep, field_error
from ..diffusion.config import ExperimentConfig
from ..encode import finite_or_none
from ..jobs import JobRunner, QueueFull
from ..schemas import CancelledView, CreateRun, DatasetView, Metrics, PresetView, RunView, responses
from ..store import RunRecord
from ..stored_config import run_config, usable_runs

router = APIRouter(prefix="/api", tags=["runs"])


def run_view(record: RunRecord, runner: JobRunner | None = None, config: ExperimentConfig | None = None) -> RunView:
    """The stored run, with live status and partial metrics while its job is active (``config``: the
    record's, already read)."""
    state, metrics = record.status, record.metrics
    live = runner.snapshot(record.run_id) if runner is not None and record.active else None
    if live is not None:
        state, metrics = live["status"], live["metrics"]
    return RunView(
        run_id=record.run_id, kind=record.kind, status=state,
        config=config or run_config(record),
        # finite_or_none: a diverged training (or an older version's record) may hold NaN losses.
        metrics=None if metrics is None else Metrics.model_validate(finite_or_none(metrics), strict=False),
        error=record.error, created_at=record.created_at, finished_at=record.finished_at,
    )


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
                        **responses(422, 429)})
def create_run(body: CreateRun, response: Response, store: StoreDep, runner: RunnerDep,
               settings: SettingsDep) -> RunView:
    """Queue a training job (202), or return the existing run of an identical config (200).

    An oracle run needs no training: it is recorded as done at once."""
    run_id, config = catalog.run_identity(body.kind, body.config)
    if body.kind == "oracle":
        record = store.get(run_id)
        if record is None:
            record = store.put(run_id, "oracle", config.canonical_json(), "done")
            response.status_code = status.HTTP_202_ACCEPTED
        else:
            response.status_code = status.HTTP_200_OK
        return run_view(record)
    existing = store.get(run_id)
    # The step limit bounds new training only: a finished run (a bundled paper-recipe model) is answered as is.
    if config.train.steps > settings.max_train_steps and (existing is None or existing.status != "done"):
        raise field_error(("body", "config", "train", "steps"), settings.max_train_steps, config.train.steps)
    try:
        record, queued = runner.submit(run_id, config)
    except QueueFull as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc
    response.status_code = status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK
    return run_view(record, runner)


@router.get("/runs", name="list_runs")
def list_runs(store: StoreDep, runner: RunnerDep) -> list[RunView]:
    """The 50 most recent runs, newest first (runs stored with a config this version rejects are left out)."""
    return [run_view(record, runner, config) for record, config in usable_runs(store.recent(50))]


@router.get("/runs/{run_id}", name="get_run", responses=responses(404, 422))
def get_run(run: RunDep, runner: RunnerDep) -> RunView:
    """A run's config, status and metrics (partial while training)."""
    return run_view(run, runner)


@router.delete("/runs/{run_id}/job", name="cancel_job", responses=responses(404, 409, 422))
def cancel_job(run: RunDep, runner: RunnerDep) -> CancelledView:
    """Cancel a queued or running training job."""
    if not runner.cancel(run.run_id):
        raise HTTPException(409, f"run {run.run_id} has no queued or running job (it is {run.status})")
    return CancelledView(run_id=run.run_id, status="cancelled")
