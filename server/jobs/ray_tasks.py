"""The task bodies that run on Ray workers (``server.jobs.ray_executor`` submits them and relays their items).

Each is a streaming generator task of one CPU. Ray pickles a remote function by reference to this module, so
every worker imports it: it does nothing at import time beyond wrapping the four functions.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import numpy as np
import ray
import torch

from ..analysis.recursive import RecursiveRun
from ..analysis.sweeps import PointDone, SweepPoint, TrainedModel, run_point, train_point
from ..gaussian.checkpoint import checkpoint_bytes, load_checkpoint_bytes
from ..gaussian.config import ExperimentConfig
from ..streaming.denoisers import loaded_model
from ..streaming.sample_session import SampleRequest, SampleSession
from .trainer import train_run


def train_events(config_json: str, history_points: int, threads: int, interval: float) -> Iterator[Any]:
    """A training job: (StepReport, LossHistory) at most every ``interval`` s and at every new loss-history
    point, then ("model", checkpoint bytes, metrics)."""
    config = ExperimentConfig.model_validate_json(config_json)
    trained = yield from train_run(config, history_points=history_points, threads=threads, interval=interval)
    yield "model", checkpoint_bytes(trained.net, config, **trained.metadata()), trained.metrics(config)


def sweep_group_events(points: list[SweepPoint], total: int, stored: tuple[bytes, float, float | None] | None,
                       report_every: int, threads: int) -> Generator[Any, None, None]:
    """Points that share one model: train it (unless ``stored``) and yield ("model", bytes, seconds, loss),
    then each point's ``PointDone``."""
    torch.set_num_threads(threads)
    first = points[0]
    if stored is None:
        model = yield from train_point(first, total, "cpu", report_every)
        loss = f"{model.final_loss:.6f}" if model.final_loss is not None else ""
        blob = checkpoint_bytes(model.net, first.config, train_seconds=f"{model.train_seconds:.2f}", final_loss=loss)
        yield "model", blob, model.train_seconds, model.final_loss
    else:
        blob, seconds, final_loss = stored
        model = TrainedModel(load_checkpoint_bytes(blob).net, seconds, final_loss)
    for point in points:
        yield PointDone(point.index, total, run_point(point, model, "cpu"))


def generation_events(run: RecursiveRun, g: int, filters: list[str], points: np.ndarray | None,
                      threads: int) -> Iterator[Any]:
    """One generation of a recursive run: its events, then ("kept", {filter: kept points}). Generation 0 is
    shared by ``filters``; a later one is of ``filters[0]`` alone, trained on ``points``."""
    torch.set_num_threads(threads)
    if g == 0:
        kept = yield from run.first_generation(filters)
    else:
        assert points is not None
        kept = {filters[0]: (yield from run.generation(g, filters[0], points))}
    yield "kept", kept


def sample_events(result_id: str, run_id: str, kind: str, config_json: str, blob: bytes | None,
                  request: SampleRequest, chunk_steps: int, threads: int) -> Iterator[Any]:
    """A sample computation: ("frames", events, steps done, finished) per chunk, then ("arrays", arrays)."""
    config = ExperimentConfig.model_validate_json(config_json)
    model = loaded_model(config, None if blob is None else load_checkpoint_bytes(blob, f"run {run_id}"))
    session = SampleSession(result_id, run_id, kind, model, request, threads=threads)
    meta = session.meta()
    while not session.finished:
        frames = session.advance(chunk_steps)
        yield "frames", frames, session.steps_done, session.finished
    yield "arrays", session.arrays(meta)


# Streaming generators, one CPU each. (Typed loosely: ray's stubs do not cover streaming generator options.)
_remote: Any = ray.remote
train_task = _remote(num_returns="streaming", num_cpus=1)(train_events)
sweep_task = _remote(num_returns="streaming", num_cpus=1)(sweep_group_events)
generation_task = _remote(num_returns="streaming", num_cpus=1)(generation_events)
# No backpressure on sample tasks: a running task must never wait for a consumer that waits for a queued one.
sample_task = _remote(num_returns="streaming", num_cpus=1)(sample_events)
