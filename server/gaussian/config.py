"""The Gaussian-mixture experiment's settings: the data, the network, and the whole experiment.

Strict, frozen pydantic models with bounds, as the core's (``server/diffusion/config.py``).
``ExperimentConfig()`` is the lab's default experiment.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le
from pydantic import field_validator, model_validator

from ..diffusion.config import ALGO_VERSION, ScheduleConfig, StrictModel, TrainConfig

DatasetName = Literal["1d-123", "1d-1245", "grid25", "diamond25", "custom"]

MAX_MODES = 64
MAX_TRAIN_POINTS = 200_000


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


class NetConfig(StrictModel):
    """The paper's residual MLP (official ``Decoder``): width 128, 3 weight-tied blocks."""

    width: Annotated[int, Ge(8), Le(512)] = 128
    blocks: Annotated[int, Ge(1), Le(8)] = 3
    tied: bool = True  # the official code repeats one block object, so its blocks share weights


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
