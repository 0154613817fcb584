"""Analysis jobs for the /analysis page: sweeps and recursive training in a sibling of ``JobRunner``.

The queue, slots, cancel events and fan-out are ``server.jobs.queue.SlotRunner``, as for ``JobRunner``.
Here: one job per content id (posting the same request returns the same job), cancellation passed
down to the engine (its job's event reaches every training step and every slice of sampled
particles), and subscriber queues that replay the units finished so far.

Caching: every sweep point's model becomes a stored run (``server.jobs.sweep_models``; the explorer opens
it at ``/run/{run_id}``), its figures go to a ``JsonDirCache`` under ``{data_dir}/analysis/points``
(the engine's ``ResultCache`` protocol, keyed by run id + sampler settings), and every finished
job's result to ``{data_dir}/analysis/jobs/{job_id}.json``: a repeated request is answered from
disk without training, also after a restart. The three caches share one size budget
(``Settings.max_analysis_mb``): beyond it the least recently used files are deleted, so an evicted
job or point is computed again when asked for. Cancelled and failed jobs are kept in memory only,
so that asking again runs them (the points they finished are cached).

Also here: the synchronous computations of the mechanism and detector-bench views, cached the
same way under ``{data_dir}/analysis/views``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from fastapi.sse import ServerSentEvent

from ..analysis.detector_bench import bench_report, compute_scores
from ..analysis.mechanism import mechanism_report, network_eps, oracle_eps
from ..analysis.recursive import (
    GenerationDone,
    GenerationStarted,
    GenerationTraining,
    RecursiveDone,
    run_recursive,
)
from ..analysis.result_cache import JsonDirCache
from ..analysis.sweeps import ModelStore, PointDone, PointStarted, PointTraining, SweepDone, run_sweep
from ..diffusion.cancel import Cancelled, CancelToken
from ..diffusion.config import SamplerConfig
from ..diffusion.training import seeded_generator
from ..gaussian.config import ExperimentConfig
from ..gaussian.datasets import training_set
from ..gaussian.denoisers import NetworkDenoiser
from ..streaming.denoisers import LoadedModel
from ..streaming.encode import EVENT_DONE, EVENT_ERROR, EVENT_PROGRESS, finite_or_none, sse, typed_array
from .queue import JobQueueFull, JobStatus, QueuedJob, SlotRunner

log = logging.getLogger(__name__)

JobKind = Literal["sweep", "recursive"]
EVENT_POINT = "point"  # a sweep point finished: {index, total, result}
EVENT_GENERATION = "generation"  # a recursive generation finished: {generation, filter, result}
SUBSCRIBER_QUEUE_SIZE = 64  # point/generation events must not be dropped: sized well above any job
ANALYSIS_VERSION = "1"


def content_id(kind: str, payload: dict[str, Any]) -> str:
    """16 hex digits of (kind, canonical JSON of the validated request)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"analysis/{ANALYSIS_VERSION}/{kind}/{text}".encode()).hexdigest()[:16]


class AnalysisQueueFull(JobQueueFull):
    queue_name = "analysis"


@dataclass
class AnalysisJob(QueuedJob):
    job_id: str
    kind: JobKind
    request: dict[str, Any]
    work: Callable[[CancelToken], Iterator[Any]]  # the engine's event generator, given the job's cancel event
    total: int  # points (sweep) or generation × filter (recursive)
    status: JobStatus = "queued"
    done_units: int = 0
    cached_units: int = 0
    current: str = ""
    step: int = 0
    steps: int = 0
    started: float = 0.0
    partial: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def key(self) -> str:
        return self.job_id

    def progress(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind, "status": self.status, "done": self.done_units,
                "total": self.total, "cached": self.cached_units, "current": self.current, "step": self.step,
                "steps": self.steps, "elapsed": round(time.monotonic() - self.started, 2) if self.started else 0.0}

    def view(self) -> dict[str, Any]:
        return finite_or_none({**self.progress(), "request": self.request, "partial": list(self.partial),
                               "result": self.result, "error": self.error})


class AnalysisRunner(SlotRunner[AnalysisJob]):
    thread_name = "modelab-analysis"

    def __init__(self, data_dir: Path, *, slots: int, queue_size: int, threads: int,
                 progress_interval: float = 0.1, max_bytes: int | None = None, models: ModelStore | None = None):
        self.root = data_dir / "analysis"
        self.models = models  # where sweep points' trained models go (the run store in the app)
        # Three caches, one size budget over all of them (least recently used files go first).
        self.points, self.views, self.jobs = (JsonDirCache(self.root / name, max_bytes=max_bytes, budget_root=self.root)
                                              for name in ("points", "views", "jobs"))
        super().__init__(slots)
        self.queue_size, self.threads = queue_size, threads
        self.progress_interval = progress_interval
        self._finished: dict[str, AnalysisJob] = {}  # this process's cancelled/failed jobs, for GET

    # ------------------------------------------------------------------ jobs

    def stored(self, job_id: str) -> dict[str, Any] | None:
        """A finished job's view from disk (None when never finished here, or evicted by the size budget)."""
        return self.jobs.get(job_id)

    def submit(self, job: AnalysisJob) -> tuple[dict[str, Any], bool]:
        """Queue ``job`` unless the same one is active or stored; (view, queued_now). Raises ``AnalysisQueueFull``."""
        with self._lock:
            active = self._active.get(job.job_id)
            if active is not None:
                return active.view(), False
            stored = self.stored(job.job_id)
            if stored is not None:
                return stored, False
            if self._stopping or len(self._queue) >= self.queue_size:
                raise AnalysisQueueFull(self._retry_after())
            self._finished.pop(job.job_id, None)
            self._enqueue(job)
            return job.view(), True

    def view(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._active.get(job_id) or self._finished.get(job_id)
            if job is not None:
                return job.view()
        return self.stored(job_id)

    def _first_events(self, job: AnalysisJob) -> list[ServerSentEvent]:
        """The partial results so far, then the progress."""
        first = [sse(_unit_event(job.kind), finite_or_none(p)) for p in job.partial]
        first.append(sse(EVENT_PROGRESS, job.progress()))
        return first

    def _subscriber_maxsize(self, backlog: int) -> int:
        return SUBSCRIBER_QUEUE_SIZE + backlog

    # ------------------------------------------------------------------ slot threads

    def _mark_running(self, job: AnalysisJob) -> ServerSentEvent:
        job.status = "running"
        job.started = time.monotonic()
        return sse(EVENT_PROGRESS, job.progress())

    def _run(self, job: AnalysisJob) -> None:
        torch.set_num_threads(self.threads)
        events = job.work(job.cancel)
        try:
            for event in events:
                if job.cancel.is_set():
                    raise Cancelled
                self._on_event(job, event)
        except Cancelled:
            self._finish(job, "cancelled", error="server stopped" if self._stopping else None)
        except Exception as exc:  # one failing job must leave the slot serving the queue
            log.exception("analysis job %s failed", job.job_id)
            self._finish(job, "failed", error=f"{type(exc).__name__}: {exc}")
        else:
            if job.result is None:
                self._finish(job, "failed", error="the job ended without a result")
            else:
                self._finish(job, "done")
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def _on_event(self, job: AnalysisJob, event: Any) -> None:
        unit: dict[str, Any] | None = None
        with self._lock:
            if isinstance(event, PointStarted):
                job.current = f"point {event.index + 1}/{event.total}: value {event.value}, seed {event.seed}"
                job.step, job.steps = 0, 0
                if event.cached:
                    job.cached_units += 1
            elif isinstance(event, GenerationStarted):
                job.current = f"generation {event.generation}, filter {event.filter}"
                job.step, job.steps = 0, 0
            elif isinstance(event, PointTraining | GenerationTraining):
                job.step, job.steps = event.progress.step, event.progress.steps
            elif isinstance(event, PointDone):
                unit = {"index": event.index, "total": event.total, "result": event.result}
            elif isinstance(event, GenerationDone):
                unit = {"generation": event.generation, "filter": event.filter, "result": event.result}
            elif isinstance(event, SweepDone | RecursiveDone):
                job.result = finite_or_none(event.result)
            if unit is not None:
                job.done_units += 1
                job.partial.append(finite_or_none(unit))
            now = time.monotonic()
            due = unit is not None or now - job.last_publish >= self.progress_interval
            if due:
                job.last_publish = now
                progress = sse(EVENT_PROGRESS, job.progress())
        if unit is not None:
            self._publish(job, sse(_unit_event(job.kind), finite_or_none(unit)))
        if due:
            self._publish(job, progress)

    def _finish(self, job: AnalysisJob, status: JobStatus, *, error: str | None = None) -> None:
        with self._lock:
            job.status, job.error = status, error
            if status == "done":
                job.done_units = job.total
            view = job.view()
        if status == "done":
            self.jobs.put(job.job_id, view)
        with self._lock:
            self._active.pop(job.job_id, None)
            if status != "done":
                self._finished[job.job_id] = job
        if status == "failed":
            event = sse(EVENT_ERROR, {"message": error or "analysis job failed", "status": status})
        else:
            event = sse(EVENT_DONE, view)
        self._publish(job, event)

    def _retry_after(self) -> int:
        return 5


def _unit_event(kind: str) -> str:
    return EVENT_POINT if kind == "sweep" else EVENT_GENERATION


# ---------------------------------------------------------------------------- job factories


def sweep_job(runner: AnalysisRunner, request: dict[str, Any], base: ExperimentConfig, sampler: SamplerConfig,
              param: str, values: list[Any], seeds: list[int]) -> AnalysisJob:
    report_every = max(1, base.train.steps // 40)

    def work(cancel: CancelToken) -> Iterator[Any]:
        return run_sweep(base, sampler, param, values, seeds, cache=runner.points, models=runner.models,
                         report_every=report_every, cancel=cancel)

    return AnalysisJob(content_id("sweep", request), "sweep", request, work, len(values) * len(seeds))


def recursive_job(request: dict[str, Any], config: ExperimentConfig, sampler: SamplerConfig, *, generations: int,
                  filters: list[str], oversample: float, lid_draws: int, scatter_points: int) -> AnalysisJob:
    report_every = max(1, config.train.steps // 40)

    def work(cancel: CancelToken) -> Iterator[Any]:
        return run_recursive(config, sampler, generations=generations, filters=filters, oversample=oversample,
                             lid_draws=lid_draws, scatter_points=scatter_points, report_every=report_every,
                             cancel=cancel)

    return AnalysisJob(content_id("recursive", request), "recursive", request, work, generations * len(filters))


# ---------------------------------------------------------------------------- synchronous views


def _f4(values: Any) -> dict[str, str]:
    return typed_array(np.asarray(values, dtype=np.float64), "f4")


def mechanism_view(model: LoadedModel, t: int, *, slopes: bool, n_curve: int, n_map: int,
                   cancel: CancelToken | None = None) -> dict[str, Any]:
    """The mechanism report at one t (curves; 2D: error map and ε fields), slopes over t if asked."""
    torch.set_num_threads(1)
    run = model.run
    denoiser = model.denoiser
    eps = network_eps(denoiser.net) if isinstance(denoiser, NetworkDenoiser) else oracle_eps(run.mixture, run.schedule)
    report = mechanism_report(eps, run.mixture, run.schedule, [t], slope_ts=None if slopes else [],
                              n_curve=n_curve, n_map=n_map, cancel=cancel)
    at = report["timesteps"][0]
    curves = {k: _f4(at[k]) for k in ("denoiser_exact", "denoiser_learned", "eps_exact", "eps_learned")}
    view: dict[str, Any] = {
        "T": report["T"], "dim": report["dim"], "t": t, "a_t": at["a_t"], "s_t": at["s_t"],
        "n_midpoints": report["n_midpoints"], "coordinate": _f4(report["curve_coordinate"]), **curves,
        "eps_relative_error": at["eps_relative_error"], "eps_abs_error_max": at["eps_abs_error_max"],
        "means": run.mixture.means.numpy().tolist(), "sigmas": run.mixture.sigmas.numpy().tolist(),
        "map": None, "midpoint_slopes": report["midpoint_slopes"] if slopes else None,
        "summary": report["summary"] if slopes else None,
    }
    if "map" in at:
        m = at["map"]
        view["map"] = {"x": _f4(m["x"]), "y": _f4(m["y"]), "abs_eps_error": _f4(m["abs_eps_error"]),
                       "abs_eps_error_max": m["abs_eps_error_max"], "field_x": _f4(m["field_x"]),
                       "field_y": _f4(m["field_y"]), "field_eps_exact": _f4(m["field_eps_exact"]),
                       "field_eps_learned": _f4(m["field_eps_learned"])}
    return finite_or_none(view)


def detector_view(model: LoadedModel, sampler: SamplerConfig, *, lid_draws: int, trained: bool,
                  cancel: CancelToken | None = None) -> dict[str, Any]:
    """The detector bench on one set of samples, with the variance detector at every K in 2 … window."""
    torch.set_num_threads(1)
    run = model.run
    config = run.config
    points = None
    if trained:
        train_points, _ = training_set(config.data, seeded_generator(config.train.seed, "data"))
        points = train_points.numpy()
    windows = list(range(2, sampler.window + 1))
    start = time.perf_counter()
    scores = compute_scores(model.denoiser, run.schedule, run.mixture, points, sampler, windows=windows,
                            lid_draws=lid_draws, cancel=cancel)
    report = bench_report(scores)
    detectors = report["detectors"]
    by_k = {k: detectors.pop(f"variance_K{k}") for k in windows}
    labels = scores.labels.label
    shown = min(len(labels), 2000)
    report.update({
        "seconds": round(time.perf_counter() - start, 2),
        "variance_by_window": {str(k): v for k, v in by_k.items()},
        "samples": typed_array(scores.samples.samples[:shown].astype(np.float32), "f4"),
        "labels": typed_array(labels[:shown].astype(np.uint8), "u1"),
        "means": run.mixture.means.numpy().tolist(),
        "has_training_points": trained,
    })
    return finite_or_none(report)
