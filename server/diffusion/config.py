"""Every experiment setting in one place: strict, frozen pydantic models with bounds.

These models are the single source of defaults for the CLI, the API, URL links and the tests.
Unknown keys, out-of-range values and wrong types are errors that name the field and the limit,
never silent fallbacks. ``ExperimentConfig()`` is the lab's default experiment.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from .schedule import ScheduleKind

# Bump whenever the training, sampling or labelling algorithm changes results: it is part of every run id. Not
# versioned: floating-point evaluation order (thread count, CPU kernels, fused matrix products), which moves results
# by rounding only. Results are bit-identical for one code version on one machine; a stored result is replayed as
# stored, so its links do not depend on this.
ALGO_VERSION = "1"

DatasetName = Literal["1d-123", "1d-1245", "grid25", "diamond25", "custom"]
SamplerKind = Literal["ddpm", "ddim"]
LrSchedule = Literal["constant", "cosine"]

MAX_MODES = 64
MAX_TRAIN_POINTS = 200_000


def _plus_zero(value: Any) -> Any:
    """-0.0 becomes 0.0 (in tuples too), so that equal numbers give equal ids; ``x + 0.0`` is x for any other x."""
    if isinstance(value, float):
        return value + 0.0
    if isinstance(value, tuple):
        return tuple(_plus_zero(v) for v in value)
    return value


class StrictModel(BaseModel):
    """Strict types, no unknown keys, frozen. Every number is finite: NaN, ±Infinity and JSON numbers too
    large for a float (1e400) are errors naming the field, in API bodies, queries and mixture files alike."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_negative_zero(cls, value: Any) -> Any:
        return _plus_zero(value)


def _lists_to_tuples(value: Any) -> Any:
    """JSON has no tuples; accept nested lists for tuple fields (the elements stay strictly typed)."""
    if isinstance(value, list):
        return tuple(_lists_to_tuples(v) for v in value)
    return value


class MixtureSpec(StrictModel):
    """A Gaussian mixture in data units: K isotropic components in D = 1 or 2 dimensions."""

    means: tuple[tuple[float, ...], ...]  # (K, D)
    sigma: Annotated[float, Gt(0), Le(10)] | tuple[Annotated[float, Gt(0), Le(10)], ...]
    weights: tuple[Annotated[float, Gt(0)], ...] | None = None
    n: Annotated[int, Ge(10), Le(MAX_TRAIN_POINTS)] = 20_000

    @field_validator("sigma", "weights", mode="before")
    @classmethod
    def _tuples(cls, value: Any) -> Any:
        return _lists_to_tuples(value)

    @field_validator("means", mode="before")
    @classmethod
    def _means_tuples(cls, value: Any) -> Any:
        value = _lists_to_tuples(value)
        # [1, 2, 3] is shorthand for the 1D mixture [[1], [2], [3]].
        if isinstance(value, tuple) and value and all(isinstance(v, int | float) for v in value):
            return tuple((v,) for v in value)
        return value

    @model_validator(mode="after")
    def _shapes_agree(self) -> MixtureSpec:
        K = len(self.means)
        if not 1 <= K <= MAX_MODES:
            raise ValueError(f"means: need 1 to {MAX_MODES} modes, got {K}")
        dims = {len(m) for m in self.means}
        if len(dims) != 1 or dims.pop() not in (1, 2):
            raise ValueError("means: every mode needs the same dimension, 1 or 2")
        if any(abs(c) > 100 for m in self.means for c in m):
            raise ValueError("means: coordinates must lie within [-100, 100]")
        if isinstance(self.sigma, tuple) and len(self.sigma) != K:
            raise ValueError(f"sigma: give one value or one per mode ({K}), got {len(self.sigma)}")
        if self.weights is not None and len(self.weights) != K:
            raise ValueError(f"weights: need one per mode ({K}), got {len(self.weights)}")
        return self

    @property
    def dim(self) -> int:
        return len(self.means[0])


class DataConfig(StrictModel):
    """Which mixture to train on: a named paper dataset, or ``custom`` with its own ``mixture``."""

    dataset: DatasetName = "grid25"
    mixture: MixtureSpec | None = None
    n: Annotated[int, Ge(10), Le(MAX_TRAIN_POINTS)] | None = None  # overrides the dataset's N

    @model_validator(mode="after")
    def _mixture_iff_custom(self) -> DataConfig:
        if self.dataset == "custom" and self.mixture is None:
            raise ValueError("mixture: required when dataset is 'custom'")
        if self.dataset != "custom" and self.mixture is not None:
            raise ValueError("mixture: only allowed with dataset 'custom'")
        return self


class ScheduleConfig(StrictModel):
    """Forward process. Paper: linear β 0.001 → 0.2 over T = 1000."""

    kind: ScheduleKind = "linear"
    T: Annotated[int, Ge(1), Le(4000)] = 1000
    beta_start: Annotated[float, Gt(0), Lt(1)] = 0.001
    beta_end: Annotated[float, Gt(0), Lt(1)] = 0.2

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleConfig:
        if self.beta_start > self.beta_end:
            raise ValueError("beta_start must not exceed beta_end")
        return self


class NetConfig(StrictModel):
    """The paper's residual MLP (official ``Decoder``): width 128, 3 weight-tied blocks."""

    width: Annotated[int, Ge(8), Le(512)] = 128
    blocks: Annotated[int, Ge(1), Le(8)] = 3
    tied: bool = True  # the official code repeats one block object, so its blocks share weights


class TrainConfig(StrictModel):
    """Optimiser recipe. Defaults are the CPU recipe chosen in ``recipes.py`` (see why there)."""

    steps: Annotated[int, Ge(1), Le(200_000)] = 3000
    batch: Annotated[int, Ge(1), Le(20_000)] = 2048
    lr: Annotated[float, Gt(0), Le(0.1)] = 2e-2
    lr_schedule: LrSchedule = "cosine"
    warmup: Annotated[int, Ge(0), Le(10_000)] = 100
    # Share of each batch whose t is drawn from the first ``low_t_frac`` of the chain instead of all of it.
    low_t_share: Annotated[float, Ge(0), Lt(1)] = 0.7
    low_t_frac: Annotated[float, Gt(0), Le(1)] = 0.05
    seed: Annotated[int, Ge(0), Le(2**31 - 1)] = 0


class ExperimentConfig(StrictModel):
    """Everything that determines a trained model, hence its run id."""

    data: DataConfig = DataConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    net: NetConfig = NetConfig()
    train: TrainConfig = TrainConfig()

    def canonical_json(self) -> str:
        """Sorted, compact JSON of every field (defaults written out): equal configs, equal bytes."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def run_id(self) -> str:
        """Content address of this config under the current algorithm version (16 hex digits)."""
        payload = f"experiment/{ALGO_VERSION}/{self.canonical_json()}".encode()
        return hashlib.sha256(payload).hexdigest()[:16]


class SamplerConfig(StrictModel):
    """How to run the reverse process. DDPM uses the paper's fixed-large variance σ_t² = β_t."""

    sampler: SamplerKind = "ddpm"
    eta: Annotated[float, Ge(0), Le(1)] = 0.0  # DDIM only: 0 deterministic, 1 DDPM-like noise
    n: Annotated[int, Ge(1), Le(200_000)] = 2000
    seed: Annotated[int, Ge(0), Le(2**31 - 1)] = 0
    window: Annotated[int, Ge(2), Le(1000)] = 10  # K: last steps whose x̂0 variance is the detector

    @model_validator(mode="after")
    def _eta_only_for_ddim(self) -> SamplerConfig:
        if self.sampler == "ddpm" and self.eta != 0.0:
            raise ValueError("eta: only used by the ddim sampler; leave it at 0 for ddpm")
        return self
