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
from ..gaussian.training import TrainingSetup


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
    torch.set_num_threads(threads)  # per thread (OpenMP): fixes this job's thread count only
    start = time.perf_counter()
    setup = TrainingSetup.create(config)
    history = LossHistory(config.train.steps, history_points)
    # A generator (typed as an Iterator by the engine): closing it ends training at once on cancel.
    steps = cast(Generator[Any, None, None], train_steps(setup, report_every=1, cancel=cancel))
    try:
        for progress in steps:
            if cancel.is_set():
                raise TrainingCancelled
            new_point = history.add(progress.step, progress.loss)
            report(StepReport(progress.step, progress.steps, history.last_loss,
                              time.perf_counter() - start, new_point), history)
    finally:
        steps.close()
    train_seconds = time.perf_counter() - start
    final_loss = history.last_loss
    save_checkpoint(path, setup.net, config, train_seconds=f"{train_seconds:.2f}",
                    final_loss=f"{final_loss:.6f}", threads=str(threads))
    return {
        "steps": config.train.steps,
        "train_seconds": round(train_seconds, 3),
        "final_loss": final_loss,
        "loss_history": history.history,
    }
