"""What controls the amount of interpolation (paper §3.5): one parameter swept over values and seeds.

Every point is a full experiment — an ``ExperimentConfig`` (hence a run id) trained from scratch, then
sampled and labelled — and its figures are cached under a key derived from that run id and the
sampler settings, so repeating a sweep, or extending it by a value or a seed, only trains what is
new. The sweep is a generator of events (point i of n started, training progress, point done, sweep
done) so a caller can stream it and stop it between training steps.

Models: a caller may also pass a ``ModelStore``; each point's model is then taken from it when it
holds the run (nothing is trained) and put there after training, so the web lab keeps every sweep
point as a stored run that the explorer can open. The engine never decides where models live.

Parameters (``SWEEP_PARAMS``):

* ``n_train``: training-set size N at the base's optimiser steps (isolates the data from the training length);
* ``n_train_epochs``: training-set size N at the base's epochs (steps × batch / N), so the steps grow with N as
  in the paper, which trains every N for 10,000 epochs: there a larger set is also trained longer;
* ``spacing``: every mode position multiplied by the value (σ unchanged; a ``custom`` mixture);
* ``T``: diffusion steps (with the base config's schedule kind; ``continuous`` keeps the ᾱ curve);
* ``steps``: optimiser steps; ``width``: network width;
* ``sampler``: ``ddpm`` or ``ddim:<η>`` (``ddim`` = η 0) on the same trained model per seed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

import numpy as np

from ..diffusion.cancel import CancelToken
from ..diffusion.config import SamplerConfig
from ..diffusion.training import TrainProgress, train_steps
from ..gaussian.config import DataConfig, ExperimentConfig, MixtureSpec
from ..gaussian.costs import Estimate, network_rows_seconds
from ..gaussian.datasets import mixture_spec
from ..gaussian.denoisers import NetworkDenoiser
from ..gaussian.experiment import ExperimentRun, sample_and_label
from ..gaussian.nets import ResidualMLP
from ..gaussian.training import TrainingSetup, training_cost
from .result_cache import ResultCache

SweepParam = Literal["n_train", "n_train_epochs", "spacing", "T", "steps", "width", "sampler"]
SWEEP_PARAMS: tuple[str, ...] = get_args(SweepParam)
POINT_VERSION = "2"  # bump when a point's figures change meaning; part of every cache key
POINT_FIGURES = ("share_between_modes", "share_in_support", "share_outside", "variance_auroc", "removed_at_96_kept")

SweepValue = int | float | str


def parse_value(param: str, text: str) -> SweepValue:
    """A command-line value for ``param``: int for n_train(_epochs)/T/steps/width, float for spacing, the sampler
    spelled ``ddpm``, ``ddim`` or ``ddim:<eta>``."""
    if param not in SWEEP_PARAMS:
        raise ValueError(f"param: expected one of {', '.join(SWEEP_PARAMS)}, got {param!r}")
    try:
        if param == "spacing":
            value = float(text)
            if not 0 < value <= 100:
                raise ValueError
            return value
        if param == "sampler":
            sampler_config(text, SamplerConfig())
            return text
        return int(text)
    except ValueError as exc:
        kinds = {"spacing": "a number in (0, 100]", "sampler": "ddpm, ddim or ddim:<eta in 0..1>"}
        kind = kinds.get(param, "an integer")
        raise ValueError(f"values: {param} needs {kind}, got {text!r}") from exc


def sampler_config(value: str, base: SamplerConfig) -> SamplerConfig:
    """``ddpm`` | ``ddim`` | ``ddim:<eta>`` applied to ``base`` (n, seed, window kept)."""
    name, _, eta = value.partition(":")
    if name not in ("ddpm", "ddim") or (name == "ddpm" and eta):
        raise ValueError(value)
    return SamplerConfig.model_validate({**base.model_dump(), "sampler": name, "eta": float(eta) if eta else 0.0})


def scaled_data(data: DataConfig, factor: float) -> DataConfig:
    """The same mixture with every mode position multiplied by ``factor`` (σ, weights and N unchanged)."""
    spec = mixture_spec(data)
    means = tuple(tuple(c * factor for c in m) for m in spec.means)
    return DataConfig(dataset="custom", mixture=MixtureSpec(means=means, sigma=spec.sigma, weights=spec.weights,
                                                           n=spec.n))


def point_config(base: ExperimentConfig, sampler: SamplerConfig, param: str, value: SweepValue,
                 seed: int) -> tuple[ExperimentConfig, SamplerConfig]:
    """The experiment and sampler of one sweep point (the training seed is ``seed``)."""
    data, schedule, net = base.data, base.schedule, base.net
    train = base.train.model_copy(update={"seed": seed})
    if param == "n_train":
        data = data.model_copy(update={"n": value})
    elif param == "n_train_epochs":
        # Same passes over the data as the base (epochs = steps × batch / N): steps scale with N / N_base.
        steps = max(1, round(train.steps * int(value) / mixture_spec(data).n))
        data = data.model_copy(update={"n": value})
        train = train.model_copy(update={"steps": steps})
    elif param == "spacing":
        data = scaled_data(data, float(value))
    elif param == "T":
        schedule = schedule.model_copy(update={"T": value})
    elif param == "steps":
        train = train.model_copy(update={"steps": value})
    elif param == "width":
        net = net.model_copy(update={"width": value})
    elif param == "sampler":
        sampler = sampler_config(str(value), sampler)
    else:
        raise ValueError(f"param: expected one of {', '.join(SWEEP_PARAMS)}, got {param!r}")
    # Re-validate: model_copy skips validation, and the values came from outside.
    config = ExperimentConfig.model_validate({"data": data.model_dump(), "schedule": schedule.model_dump(),
                                              "net": net.model_dump(), "train": train.model_dump()})
    return config, sampler


def point_key(config: ExperimentConfig, sampler: SamplerConfig) -> str:
    """Cache key of a point's figures: run id + sampler settings + figure version (16 hex digits)."""
    payload = f"sweep-point/{POINT_VERSION}/{config.run_id()}/{sampler.model_dump_json()}".encode()
    return hashlib.sha256(payload).hexdigest()[:16]


@dataclass(frozen=True)
class TrainedModel:
    net: ResidualMLP
    train_seconds: float
    final_loss: float | None


class ModelStore(Protocol):
    """Where a sweep finds and keeps its trained models (keyed by the config's run id)."""

    def load(self, config: ExperimentConfig) -> TrainedModel | None: ...

    def save(self, config: ExperimentConfig, model: TrainedModel) -> None: ...


@dataclass(frozen=True)
class SweepPoint:
    index: int
    value: SweepValue
    seed: int
    config: ExperimentConfig
    sampler: SamplerConfig
    key: str


def sweep_points(base: ExperimentConfig, sampler: SamplerConfig, param: str, values: Sequence[SweepValue],
                 seeds: Sequence[int]) -> list[SweepPoint]:
    """Seed-major order, so a sampler sweep reuses one trained model per seed."""
    if not values or not seeds:
        raise ValueError("a sweep needs at least one value and one seed")
    points: list[SweepPoint] = []
    for seed in seeds:
        for value in values:
            config, point_sampler = point_config(base, sampler, param, value, seed)
            points.append(SweepPoint(len(points), value, seed, config, point_sampler, point_key(config, point_sampler)))
    return points


def sweep_cost(points: Sequence[SweepPoint]) -> Estimate:
    """Estimated seconds of a sweep computed from scratch (nothing cached): each point trains (a sampler
    sweep trains once per seed, as ``run_sweep``) and samples ``sampler.n`` particles over T steps."""
    seconds, step, trainings, previous = 0.0, 0.0, 0, None
    for point in points:
        if point.config.run_id() != previous:
            training = training_cost(point.config)
            seconds, step, trainings = seconds + training.seconds, max(step, training.step_seconds), trainings + 1
            previous = point.config.run_id()
        rows = point.sampler.n * point.config.schedule.T
        seconds += network_rows_seconds(point.config.net, mixture_spec(point.config.data).dim, rows)
    return Estimate(seconds, step, f"{trainings} trainings and {len(points)} samplings")


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class PointStarted:
    index: int
    total: int
    value: SweepValue
    seed: int
    run_id: str
    cached: bool


@dataclass(frozen=True)
class PointTraining:
    index: int
    total: int
    progress: TrainProgress


@dataclass(frozen=True)
class PointDone:
    index: int
    total: int
    result: dict[str, Any]


@dataclass(frozen=True)
class SweepDone:
    result: dict[str, Any]


SweepEvent = PointStarted | PointTraining | PointDone | SweepDone


def train_point(point: SweepPoint, total: int, device: str, report_every: int, cancel: CancelToken | None = None
                ) -> Generator[SweepEvent, None, TrainedModel]:
    """Train a point's model from scratch, yielding its progress; returns the trained model."""
    setup = TrainingSetup.create(point.config, device)
    progress = None
    for progress in train_steps(setup, report_every=report_every, cancel=cancel):
        yield PointTraining(point.index, total, progress)
    assert progress is not None
    return TrainedModel(setup.net, progress.elapsed, progress.loss)


def run_point(point: SweepPoint, model: TrainedModel, device: str, cancel: CancelToken | None = None
              ) -> dict[str, Any]:
    """Sample and label a trained point; the JSON-ready figures that get cached."""
    start = time.perf_counter()
    run = ExperimentRun.from_config(point.config)  # schedule and exact mixture, for the labels
    denoiser = NetworkDenoiser(model.net.to(device), cancel=cancel)
    outcome = sample_and_label(denoiser, run, point.sampler, device=device)
    return {
        "value": point.value,
        "seed": point.seed,
        "run_id": point.config.run_id(),
        "key": point.key,
        "train_steps": point.config.train.steps,
        "train_seconds": round(model.train_seconds, 3),
        "final_loss": model.final_loss,
        "sample_seconds": round(time.perf_counter() - start, 3),
        **{k: outcome.summary[k] for k in POINT_FIGURES},
    }


def run_sweep(
    base: ExperimentConfig,
    sampler: SamplerConfig,
    param: str,
    values: Sequence[SweepValue],
    seeds: Sequence[int],
    *,
    cache: ResultCache | None = None,
    models: ModelStore | None = None,
    device: str = "cpu",
    report_every: int = 100,
    cancel: CancelToken | None = None,
) -> Iterator[SweepEvent]:
    """Yield events point by point, then ``SweepDone`` with the aggregate (see ``aggregate``).

    ``cancel`` reaches every training step and every slice of sampled particles (raises ``Cancelled``)."""
    points = sweep_points(base, sampler, param, values, seeds)
    total = len(points)
    results: list[dict[str, Any]] = []
    trained: tuple[str, TrainedModel] | None = None  # the last model (a sampler sweep reuses it)
    for point in points:
        cached = cache.get(point.key) if cache is not None else None
        run_id = point.config.run_id()
        yield PointStarted(point.index, total, point.value, point.seed, run_id, cached is not None)
        if cached is None:
            if trained is None or trained[0] != run_id:
                model = models.load(point.config) if models is not None else None
                if model is None:
                    model = yield from train_point(point, total, device, report_every, cancel)
                    if models is not None:
                        models.save(point.config, model)
                trained = (run_id, model)
            result = run_point(point, trained[1], device, cancel)
            if cache is not None:
                cache.put(point.key, result)
        else:
            result = cached
        results.append(result)
        yield PointDone(point.index, total, result)
    yield SweepDone(aggregate(param, values, seeds, results))


def aggregate(param: str, values: Sequence[SweepValue], seeds: Sequence[int],
              results: Sequence[dict[str, Any]], figure: str = "share_between_modes") -> dict[str, Any]:
    """Per value: mean and std over seeds (ddof 1; 0 for one seed) of ``figure``, and the per-seed values."""
    series = []
    for value in values:
        rows = [r for r in results if r["value"] == value]
        shares = np.array([r[figure] for r in rows], dtype=np.float64)
        series.append({
            "value": value,
            "mean": float(shares.mean()),
            "std": float(shares.std(ddof=1)) if len(shares) > 1 else 0.0,
            "per_seed": [{"seed": r["seed"], figure: r[figure], "run_id": r["run_id"]} for r in rows],
        })
    return {"param": param, "figure": figure, "values": list(values), "seeds": list(seeds), "series": series,
            "points": list(results)}


def collect(events: Iterator[SweepEvent]) -> dict[str, Any]:
    """Drain a sweep's events and return the final aggregate."""
    for event in events:
        if isinstance(event, SweepDone):
            return event.result
    raise RuntimeError("the sweep ended without a result")
