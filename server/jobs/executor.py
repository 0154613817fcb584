"""Where the heavy work runs: this process (``LocalExecutor``, the default) or a Ray cluster (``RayExecutor``).

The job runners and the sample-stream registry call this interface and never ask which one they have:
training jobs, sweeps, recursive runs, and the chunks of a sample computation. Both executors run the
same engine functions with the same seeds and thread counts, so their results are bit-identical.
``make_executor`` picks one from the settings; only ``RayExecutor`` imports ray.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..analysis.recursive import RecursiveEvent, run_recursive
from ..analysis.result_cache import ResultCache
from ..analysis.sweeps import ModelStore, SweepEvent, SweepValue, run_sweep
from ..diffusion.cancel import CancelToken
from ..diffusion.config import SamplerConfig
from ..gaussian.config import ExperimentConfig
from ..settings import Settings
from ..streaming.sample_session import LocalSampleExecutor, SampleExecutor
from .trainer import LossHistory, StepReport, train_and_save

if TYPE_CHECKING:
    from ..store import Store


class Executor(SampleExecutor, Protocol):
    name: str  # "local" or "ray" (``/healthz`` and the logs say which)

    def train(self, config: ExperimentConfig, path: Path, *, cancel: threading.Event,
              report: Callable[[StepReport, LossHistory], None], history_points: int,
              threads: int) -> dict[str, Any]:
        """Train ``config``, write its checkpoint to ``path``; the metrics. Raises ``Cancelled``."""
        ...

    def sweep(self, base: ExperimentConfig, sampler: SamplerConfig, param: str, values: Sequence[SweepValue],
              seeds: Sequence[int], *, cache: ResultCache | None, models: ModelStore | None, report_every: int,
              cancel: CancelToken) -> Iterator[SweepEvent]:
        """``run_sweep``'s events (points may finish out of order on a cluster)."""
        ...

    def recursive(self, config: ExperimentConfig, sampler: SamplerConfig, *, cancel: CancelToken,
                  generations: int, filters: Sequence[str], **options: Any) -> Iterator[RecursiveEvent]:
        """``run_recursive``'s events (a generation's filters may finish out of order on a cluster)."""
        ...

    def backend(self) -> dict[str, Any]:
        """What ``/healthz`` says about where the work runs (``Backend``); never blocks."""
        ...

    def close(self) -> None: ...


class LocalExecutor(LocalSampleExecutor):
    """Everything in this process: job threads for jobs, worker threads for sample chunks."""

    name = "local"

    def train(self, config: ExperimentConfig, path: Path, *, cancel: threading.Event,
              report: Callable[[StepReport, LossHistory], None], history_points: int,
              threads: int) -> dict[str, Any]:
        return train_and_save(config, path, cancel=cancel, report=report, history_points=history_points,
                              threads=threads)

    def sweep(self, base: ExperimentConfig, sampler: SamplerConfig, param: str, values: Sequence[SweepValue],
              seeds: Sequence[int], *, cache: ResultCache | None, models: ModelStore | None, report_every: int,
              cancel: CancelToken) -> Iterator[SweepEvent]:
        return run_sweep(base, sampler, param, values, seeds, cache=cache, models=models,
                         report_every=report_every, cancel=cancel)

    def recursive(self, config: ExperimentConfig, sampler: SamplerConfig, *, cancel: CancelToken,
                  generations: int, filters: Sequence[str], **options: Any) -> Iterator[RecursiveEvent]:
        return run_recursive(config, sampler, cancel=cancel, generations=generations, filters=filters, **options)

    def backend(self) -> dict[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        pass


def make_executor(settings: Settings, store: Store) -> Executor:
    """``RayExecutor`` connected to ``settings.ray_address`` when it is set, else ``LocalExecutor``."""
    if settings.ray_address is None:
        return LocalExecutor()
    from .ray_executor import RayExecutor  # ray is an optional extra: imported only when asked for

    return RayExecutor(settings, store)
