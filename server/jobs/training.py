"""JobRunner: a bounded FIFO of training jobs run by a fixed number of slot threads.

The queue, slots, cancel events and subscriber fan-out are ``server.jobs.queue.SlotRunner``; here:

* One job per run id: submitting a config that is queued, running or done returns that run.
* Each job sets its own torch thread count inside its slot thread.
* Subscriber queues are small: each progress event describes the whole state, so when one is
  full only the newest matters.
* A job nobody watches is bounded: with no subscriber to its events and no read of its run for
  ``unwatched_job_seconds`` (a closed tab, a script that left), a check on the loop cancels it and
  the run records why. Finished runs (bundled ones included) and the CLI are never jobs here.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch
from fastapi.sse import ServerSentEvent

from ..diffusion.cancel import Cancelled
from ..gaussian.config import ExperimentConfig
from ..settings import Settings
from ..store import RunRecord, Store
from ..streaming.encode import EVENT_DONE, EVENT_PROGRESS, error_event, finite_or_none, sse
from .executor import Executor, LocalExecutor
from .queue import JobQueueFull, QueuedJob, SlotRunner
from .trainer import LossHistory, StepReport

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 8
SECONDS_PER_SAMPLE_STEP = 1.2e-5  # ETA prior (1 thread, width 128): ~25 ms per step at batch 2048


def work_of(config: ExperimentConfig) -> float:
    """Sample-steps weighted by the net's size (its matmuls: blocks × width², 1 for the default net):
    the unit of the ETA model, so a measured rate carries over to a wider net."""
    net = config.net
    return config.train.steps * config.train.batch * max(1.0, net.blocks * net.width ** 2 / (3 * 128 ** 2))


class QueueFull(JobQueueFull):
    queue_name = "training"


@dataclass
class Job(QueuedJob):
    run_id: str
    config: ExperimentConfig
    status: str = "queued"
    step: int = 0
    loss: float | None = None
    elapsed: float = 0.0
    loss_history: list[list[float]] = field(default_factory=list)
    watched_at: float = field(default_factory=time.monotonic)  # last subscriber left / last read of the run
    cancel_reason: str | None = None  # stored as the run's error when it ends cancelled
    preview: dict[str, Any] | None = None  # the latest x̂0 preview (server.jobs.preview)

    @property
    def key(self) -> str:
        return self.run_id

    @property
    def steps(self) -> int:
        return self.config.train.steps

    @property
    def work(self) -> float:
        return work_of(self.config)


class JobRunner(SlotRunner[Job]):
    thread_name = "modelab-train"

    def __init__(self, settings: Settings, store: Store, executor: Executor | None = None):
        super().__init__(settings.training_slots)
        self.settings = settings
        self.store = store
        self.executor: Executor = executor or LocalExecutor()  # in this process, or on a Ray cluster
        self._rates: deque[float] = deque(maxlen=20)  # measured seconds per sample-step of finished jobs
        self._watchdog: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop thread: the slot threads, and the check that cancels jobs nobody watches."""
        super().start(loop)
        self._watchdog = loop.create_task(self._cancel_unwatched_every())

    def stop(self, timeout: float = 10.0) -> None:
        if self._watchdog is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._watchdog.cancel)
        super().stop(timeout)

    # ------------------------------------------------------------------ submitting and cancelling

    def submit(self, run_id: str, config: ExperimentConfig) -> tuple[RunRecord, bool]:
        """Queue a run unless it is active or done. Returns (record, queued_now). Raises ``QueueFull``."""
        with self._lock:
            record = self.store.get(run_id)
            if run_id in self._active or (record is not None and record.status == "done"):
                assert record is not None
                if run_id in self._active:  # a client joining the job watches it too
                    self._active[run_id].watched_at = time.monotonic()
                return record, False
            if self._stopping or len(self._queue) >= self.settings.queue_size:
                raise QueueFull(self._retry_after())
            record = self.store.put(run_id, "trained", config.canonical_json(), "queued")
            self._enqueue(Job(run_id, config))
        return record, True

    def _cancelled_while_queued(self, job: Job) -> None:
        self._finish(job, "cancelled", error=job.cancel_reason)
        self._publish_positions()  # every job behind it moved up one place

    # ------------------------------------------------------------------ jobs nobody watches

    def touch(self, run_id: str) -> None:
        """Someone read the run (a poll): its job, if any, is watched now."""
        with self._lock:
            job = self._active.get(run_id)
            if job is not None:
                job.watched_at = time.monotonic()

    def unsubscribe(self, key: str, queue: asyncio.Queue[ServerSentEvent]) -> None:
        super().unsubscribe(key, queue)
        self.touch(key)  # the grace period starts when the last watcher leaves

    def cancel_unwatched(self, now: float | None = None) -> list[str]:
        """On the loop thread (it reads subscriber sets): cancel every job with no subscriber that nobody
        read for ``unwatched_job_seconds``; returns their run ids."""
        now = time.monotonic() if now is None else now
        grace = self.settings.unwatched_job_seconds
        with self._lock:
            idle = [job for job in self._active.values()
                    if not job.subscribers and now - job.watched_at >= grace and not job.cancel.is_set()]
            for job in idle:
                job.cancel_reason = f"cancelled: nobody watched it for {now - job.watched_at:.0f} s"
        for job in idle:
            log.info("training %s %s", job.run_id, job.cancel_reason)
            self.cancel(job.run_id)
        return [job.run_id for job in idle]

    async def _cancel_unwatched_every(self) -> None:
        interval = min(self.settings.unwatched_job_seconds / 4, 5.0)
        while True:
            await asyncio.sleep(interval)
            self.cancel_unwatched()

    # ------------------------------------------------------------------ reading state

    def job(self, run_id: str) -> Job | None:
        with self._lock:
            return self._active.get(run_id)

    def snapshot(self, run_id: str) -> dict[str, Any] | None:
        """Live fields of an active job (status, partial metrics), or None."""
        with self._lock:
            job = self._active.get(run_id)
            if job is None:
                return None
            return {"status": job.status, "metrics": self._partial_metrics(job)}

    def _first_events(self, job: Job) -> list[ServerSentEvent]:
        """Only the current progress (each progress event carries the whole state), with the latest preview."""
        return [self._progress_event(job, with_preview=True)]

    def _subscriber_maxsize(self, backlog: int) -> int:
        return SUBSCRIBER_QUEUE_SIZE

    # ------------------------------------------------------------------ slot threads

    def _mark_running(self, job: Job) -> ServerSentEvent:
        job.status = "running"
        return self._progress_event(job)

    def _started(self, job: Job, event: ServerSentEvent) -> None:
        self.store.set_status(job.run_id, "running")
        self._publish(job, event)
        self._publish_positions()

    def _run(self, job: Job) -> None:
        try:
            metrics = self.executor.train(
                job.config, self.store.model_path(job.run_id), cancel=job.cancel,
                report=lambda step, history: self._on_step(job, step, history),
                history_points=self.settings.loss_history_points, threads=self.settings.torch_threads,
            )
        except Cancelled:  # raised inside a step's check or between steps
            self._finish(job, "cancelled", error="server stopped" if self._stopping else job.cancel_reason)
        except Exception as exc:  # any failure of one job must leave the slot serving the queue
            log.exception("training %s failed", job.run_id)
            self._finish(job, "failed", error=f"{type(exc).__name__}: {exc}")
        else:
            with self._lock:
                self._rates.append(metrics["train_seconds"] / max(job.work, 1))
            self._finish(job, "done", metrics=finite_or_none(metrics))

    def _on_step(self, job: Job, step: StepReport, history: LossHistory) -> None:
        now = time.monotonic()
        with self._lock:
            job.step, job.loss, job.elapsed = step.step, step.loss, step.elapsed
            if step.new_point:
                job.loss_history = list(history.history)
            if step.preview is not None:
                job.preview = step.preview
            due = (now - job.last_publish >= self.settings.progress_interval or step.step == step.steps
                   or step.preview is not None)
            if due:
                job.last_publish = now
                event = self._progress_event(job, with_preview=step.preview is not None)
        if due:
            self._publish(job, event)

    def _finish(self, job: Job, status: str, *, metrics: dict[str, Any] | None = None,
                error: str | None = None) -> None:
        """Record the outcome, then retire the job and send its last event (store first: see module doc)."""
        self.store.finish(job.run_id, status, metrics=metrics, error=error,  # type: ignore[arg-type]
                          torch_version=torch.__version__, threads=self.settings.torch_threads)
        with self._lock:
            job.status = status
            self._active.pop(job.run_id, None)
        if status == "failed":
            event = error_event(error or "training failed", status=status)
        else:
            event = sse(EVENT_DONE, {"status": status, "metrics": metrics})
        self._publish(job, event)

    # ------------------------------------------------------------------ progress and ETA

    def _progress_event(self, job: Job, *, with_preview: bool = False) -> ServerSentEvent:
        """Called with ``_lock`` held. ``with_preview``: add the latest preview (sent once per preview, and to a
        new subscriber: a few kB each, not every tenth of a second)."""
        position = self._queue.index(job) + 1 if job in self._queue else 0
        data = finite_or_none({
            "step": job.step, "steps": job.steps, "loss": job.loss, "elapsed": round(job.elapsed, 3),
            "eta": round(self._eta(job), 2), "status": job.status, "queue_position": position,
        })
        if with_preview and job.preview is not None:
            data["preview"] = job.preview
        return sse(EVENT_PROGRESS, data)

    def estimate(self, config: ExperimentConfig) -> float:
        """Seconds a new job of ``config`` would train on a free slot (the measured rate, else the prior)."""
        with self._lock:
            return work_of(config) * self._rate()

    def _rate(self) -> float:
        return statistics.median(self._rates) if self._rates else SECONDS_PER_SAMPLE_STEP

    def _remaining(self, job: Job) -> float:
        if job.status == "running" and job.step > 0:
            return job.elapsed / job.step * (job.steps - job.step)
        return job.work * self._rate()

    def _eta(self, job: Job) -> float:
        """Seconds until ``job`` ends: its own remaining time plus, if queued, everything ahead of it."""
        if job.status != "queued" or job not in self._queue:
            return self._remaining(job)
        running = [j for j in self._active.values() if j.status == "running"]
        ahead = list(self._queue)[: self._queue.index(job)]
        slots = self.settings.training_slots
        return (sum(map(self._remaining, running + ahead))) / slots + self._remaining(job)

    def _retry_after(self) -> int:
        """Seconds until the soonest running job ends, which frees one queue place."""
        running = [self._remaining(j) for j in self._active.values() if j.status == "running"]
        return int(min(max(min(running, default=1.0), 1.0), 3600))

    def _partial_metrics(self, job: Job) -> dict[str, Any]:
        return finite_or_none({"steps": job.steps, "train_seconds": round(job.elapsed, 3), "final_loss": job.loss,
                               "loss_history": list(job.loss_history)})

    # ------------------------------------------------------------------ fan-out (loop thread)

    def _publish_positions(self) -> None:
        with self._lock:
            events = [(job, self._progress_event(job)) for job in self._queue]
        for job, event in events:
            self._publish(job, event)
