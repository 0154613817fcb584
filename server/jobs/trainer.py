"""One training job, run inside a job thread: train, watch for cancellation, save the checkpoint.

The engine's ``train_steps`` checks the job's cancel event before every optimiser step, so a cancel
takes effect within one step (the budget, ``server.budgets``, keeps a step well under a second);
losses are averaged into a fixed number of buckets for the loss chart.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from ..diffusion.cancel import Cancelled
from ..diffusion.training import train_steps
from ..gaussian.checkpoint import save_checkpoint
from ..gaussian.config import ExperimentConfig
from ..gaussian.nets import ResidualMLP
from ..gaussian.training import TrainingSetup
from .preview import PreviewGrid, preview_every


class TrainingCancelled(Cancelled):
    """The job's cancel event was set between two steps."""


@dataclass
class LossHistory:
    """Mean loss per bucket of ``ceil(steps / points)`` steps: at most ``points`` [step, loss] pairs."""

    steps: int
    points: int
    history: list[list[float]] = field(default_factory=list)
    _sum: float = 0.0
    _count: int = 0

    @property
    def bucket(self) -> int:
        return max(1, math.ceil(self.steps / self.points))

    def add(self, step: int, loss: float) -> bool:
        """Record the loss of ``step`` (1-based); True when a bucket closed (a new history point)."""
        self._sum, self._count = self._sum + loss, self._count + 1
        if step % self.bucket and step != self.steps:
            return False
        self.history.append([step, self._sum / self._count])
        self._sum, self._count = 0.0, 0
        return True

    @property
    def last_loss(self) -> float | None:
        return self.history[-1][1] if self.history else None


@dataclass(frozen=True)
class StepReport:
    step: int
    steps: int
    loss: float | None  # mean of the latest bucket
    elapsed: float
    new_point: bool  # a loss-history point was just added
    preview: dict[str, Any] | None = None  # the network's x̂0 on the preview grid, when just computed (.preview)


@dataclass(frozen=True)
class Trained:
    """A finished training run, before it is saved."""

    net: ResidualMLP
    train_seconds: float
    history: list[list[float]]
    threads: int

    @property
    def final_loss(self) -> float | None:
        return self.history[-1][1] if self.history else None

    def metrics(self, config: ExperimentConfig) -> dict[str, Any]:
        return {"steps": config.train.steps, "train_seconds": round(self.train_seconds, 3),
                "final_loss": self.final_loss, "loss_history": self.history}

    def metadata(self) -> dict[str, str]:
        """The checkpoint's extra metadata."""
        return {"train_seconds": f"{self.train_seconds:.2f}", "final_loss": f"{self.final_loss:.6f}",
                "threads": str(self.threads)}


def train_run(config: ExperimentConfig, *, history_points: int, threads: int, cancel: threading.Event | None = None,
              interval: float = 0.0, previews: bool = True) -> Generator[tuple[StepReport, LossHistory], None, Trained]:
    """Train ``config``, yielding after a step (at most every ``interval`` seconds, but always at a new
    loss-history point, at a preview and at the last step); returns the trained network. Raises
    ``TrainingCancelled``. ``previews``: the network's x̂0 on a fixed grid at step 0 and every
    ``preview_every(steps)`` steps (``server.jobs.preview``), carried by that step's report.

    The same steps wherever it runs (a job thread here, a Ray worker elsewhere: ``server.jobs.ray_tasks``)."""
    torch.set_num_threads(threads)  # per thread (OpenMP): fixes this job's thread count only
    start = time.perf_counter()
    setup = TrainingSetup.create(config)
    history = LossHistory(config.train.steps, history_points)
    grid = PreviewGrid.create(setup.mixture, setup.schedule) if previews else None
    every = preview_every(config.train.steps)
    if grid is not None:  # the untrained network: where the picture starts
        yield StepReport(0, config.train.steps, None, time.perf_counter() - start, False,
                         grid.payload(0, grid.learned(setup.net))), history
    # A generator (typed as an Iterator by the engine): closing it ends training at once on cancel.
    steps = cast(Generator[Any, None, None], train_steps(setup, report_every=1, cancel=cancel))
    last = -math.inf
    try:
        for progress in steps:
            if cancel is not None and cancel.is_set():
                raise TrainingCancelled
            new_point = history.add(progress.step, progress.loss)
            preview = None
            if grid is not None and (progress.step % every == 0 or progress.step == progress.steps):
                preview = grid.payload(progress.step, grid.learned(setup.net))
            now = time.perf_counter()
            if new_point or preview is not None or now - last >= interval or progress.step == progress.steps:
                last = now
                yield StepReport(progress.step, progress.steps, history.last_loss, now - start, new_point,
                                 preview), history
    finally:
        steps.close()
    return Trained(setup.net, time.perf_counter() - start, history.history, threads)


def train_and_save(
    config: ExperimentConfig,
    path: Path,
    *,
    cancel: threading.Event,
    report: Callable[[StepReport, LossHistory], None],
    history_points: int,
    threads: int,
) -> dict[str, Any]:
    """Train ``config`` and write ``path``; returns the run's metrics. Raises ``TrainingCancelled``."""
    run = train_run(config, history_points=history_points, threads=threads, cancel=cancel)
    while True:
        try:
            step, history = next(run)
        except StopIteration as stop:
            trained: Trained = stop.value
            break
        report(step, history)
    save_checkpoint(path, trained.net, config, **trained.metadata())
    return trained.metrics(config)
