"""JobRunner: a bounded FIFO of training jobs run by a fixed number of slot threads.

* One job per run id: submitting a config that is queued, running or done returns that run.
* Slots are plain threads (torch releases the GIL in its kernels, so the event loop stays
  responsive); each job sets its own torch thread count inside its thread.
* Cancellation is a ``threading.Event`` the training loop checks between steps.
* Progress fans out to SSE subscribers through small bounded ``asyncio.Queue``s, fed from the job
  thread with ``loop.call_soon_threadsafe``; a full queue drops its oldest event (each progress
  event describes the whole state, so only the newest matters).

Threading: ``_lock`` guards the queue, the active jobs and their fields; subscriber sets are only
touched on the event-loop thread (subscribe, unsubscribe and fan-out all run there).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch
from fastapi.sse import ServerSentEvent

from .diffusion.config import ExperimentConfig
from .encode import EVENT_DONE, EVENT_PROGRESS, error_event, finite_or_none, sse
from .settings import Settings
from .store import RunRecord, Store
from .trainer import LossHistory, StepReport, TrainingCancelled, train_and_save

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 8
SECONDS_PER_SAMPLE_STEP = 1.2e-5  # ETA prior (1 thread, width 128): ~25 ms per step at batch 2048


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the training queue is full; retry in about {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Job:
    run_id: str
    config: ExperimentConfig
    status: str = "queued"
    step: int = 0
    loss: float | None = None
    elapsed: float = 0.0
    loss_history: list[list[float]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    subscribers: set[asyncio.Queue[ServerSentEvent]] = field(default_factory=set)
    last_publish: float = 0.0

    @property
    def steps(self) -> int:
        return self.config.train.steps

    @property
    def work(self) -> int:
        """Sample-steps, the unit of the ETA model."""
        return self.config.train.steps * self.config.train.batch


class JobRunner:
    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._queue: deque[Job] = deque()
        self._active: dict[str, Job] = {}  # queued or running, by run id
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rates: deque[float] = deque(maxlen=20)  # measured seconds per sample-step of finished jobs

    # ------------------------------------------------------------------ lifecycle

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for i in range(self.settings.training_slots):
            thread = threading.Thread(target=self._slot, name=f"modelab-train-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel everything: queued jobs at once, running ones at their next step; join the slots."""
        with self._lock:
            self._stopping = True
            queued = list(self._queue)
            self._queue.clear()
            for job in self._active.values():
                job.cancel.set()
            self._wakeup.notify_all()
        for job in queued:
            self._finish(job, "cancelled", error="server stopped")
        for thread in self._threads:
            thread.join(timeout)

    # ------------------------------------------------------------------ submitting and cancelling

    def submit(self, run_id: str, config: ExperimentConfig) -> tuple[RunRecord, bool]:
        """Queue a run unless it is active or done. Returns (record, queued_now). Raises ``QueueFull``."""
        with self._lock:
            record = self.store.get(run_id)
            if run_id in self._active or (record is not None and record.status == "done"):
                assert record is not None
                return record, False
            if self._stopping or len(self._queue) >= self.settings.queue_size:
                raise QueueFull(self._retry_after())
            record = self.store.put(run_id, "trained", config.canonical_json(), "queued")
            job = Job(run_id, config)
            self._active[run_id] = job
            self._queue.append(job)
            self._wakeup.notify()
        return record, True

    def cancel(self, run_id: str) -> bool:
        """Cancel a queued or running job; False when there is none."""
        with self._lock:
            job = self._active.get(run_id)
            if job is None:
                return False
            job.cancel.set()
            was_queued = job in self._queue
            if was_queued:
                self._queue.remove(job)
        if was_queued:
            self._finish(job, "cancelled")
            self._publish_positions()
        return True

    # ------------------------------------------------------------------ reading state

    def counts(self) -> tuple[int, int]:
        """(queued, running) jobs."""
        with self._lock:
            return len(self._queue), len(self._active) - len(self._queue)

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

    def subscribe(self, run_id: str) -> asyncio.Queue[ServerSentEvent] | None:
        """On the loop thread: a queue that starts with the current progress; None if not active."""
        with self._lock:
            job = self._active.get(run_id)
            if job is None:
                return None
            first = self._progress_event(job)
        queue: asyncio.Queue[ServerSentEvent] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE_SIZE)
        queue.put_nowait(first)
        job.subscribers.add(queue)
        return queue

    def unsubscribe(self, run_id: str, queue: asyncio.Queue[ServerSentEvent]) -> None:
        with self._lock:
            job = self._active.get(run_id)
        if job is not None:
            job.subscribers.discard(queue)

    # ------------------------------------------------------------------ slot threads

    def _slot(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._wakeup.wait()
                if self._stopping:
                    return
                job = self._queue.popleft()
                job.status = "running"
                started = self._progress_event(job)
            self.store.set_status(job.run_id, "running")
            self._publish(job, started)
            self._publish_positions()
            self._run(job)

    def _run(self, job: Job) -> None:
        try:
            metrics = train_and_save(
                job.config, self.store.model_path(job.run_id), cancel=job.cancel,
                report=lambda step, history: self._on_step(job, step, history),
                history_points=self.settings.loss_history_points, threads=self.settings.torch_threads,
            )
        except TrainingCancelled:
            self._finish(job, "cancelled", error="server stopped" if self._stopping else None)
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
            due = now - job.last_publish >= self.settings.progress_interval or step.step == step.steps
            if due:
                job.last_publish = now
                event = self._progress_event(job)
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

    def _progress_event(self, job: Job) -> ServerSentEvent:
        """Called with ``_lock`` held."""
        position = self._queue.index(job) + 1 if job in self._queue else 0
        return sse(EVENT_PROGRESS, finite_or_none({
            "step": job.step, "steps": job.steps, "loss": job.loss, "elapsed": round(job.elapsed, 3),
            "eta": round(self._eta(job), 2), "status": job.status, "queue_position": position,
        }))

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

    def _publish(self, job: Job, event: ServerSentEvent) -> None:
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(_fan_out, job, event)
            except RuntimeError:  # loop closed between the check and the call (shutdown)
                pass


def _fan_out(job: Job, event: ServerSentEvent) -> None:
    for queue in list(job.subscribers):
        if queue.full():
            queue.get_nowait()  # drop the oldest: the newest event carries the whole state
        queue.put_nowait(event)
