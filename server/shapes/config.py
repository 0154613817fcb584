"""Every Simple Shapes setting: strict, frozen pydantic models with bounds (the style of server/diffusion/config.py).

``ShapesConfig()`` is the default image experiment; it determines a trained U-Net, hence its run id. The schedule and
training models extend the Gaussian ones, so the shared helpers (``learning_rate``, ``NoiseSchedule.create``) take
them unchanged; only the defaults differ, and those live here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import field_validator, model_validator

from server.diffusion.config import ALGO_VERSION, LrSchedule, ScheduleConfig, StrictModel, TrainConfig

MAX_TRAIN_IMAGES = 50_000
MAX_LEVELS = 5


class ShapesDataConfig(StrictModel):
    """The training set: ``n`` images of the official generator at 64×64 or the reduced 32×32 (geometry.py)."""

    resolution: Literal[64, 32] = 64
    n: Annotated[int, Ge(1), Le(MAX_TRAIN_IMAGES)] = 5000
    seed: Annotated[int, Ge(0), Le(2**31 - 1)] = 0


class ShapesScheduleConfig(ScheduleConfig):
    """DDPM for images: linear β 1e-4 → 0.02 over T = 1000 (Ho et al. 2020, the image setting of the ddpm-torch code
    the official repository vendors, and the calibration's). The Gaussian runs' 0.001 → 0.2 would erase a 64×64
    image by t ≈ 250 (√ᾱ_249 ≈ 0.038 there)."""

    beta_start: Annotated[float, Gt(0), Lt(1)] = 1e-4
    beta_end: Annotated[float, Gt(0), Lt(1)] = 0.02


class UNetConfig(StrictModel):
    """A DDPM U-Net: ``channels[i]`` at level i (each level below the first halves H and W), ``blocks`` residual
    blocks per level on the way down (``blocks`` + 1 on the way up), one self-attention block at the lowest level."""

    channels: tuple[Annotated[int, Ge(4), Le(256)], ...] = (32, 64, 64, 96)
    blocks: Annotated[int, Ge(1), Le(3)] = 1
    attention: bool = True

    @field_validator("channels", mode="before")
    @classmethod
    def _tuple(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value  # JSON has no tuples

    @model_validator(mode="after")
    def _levels(self) -> UNetConfig:
        if not 1 <= len(self.channels) <= MAX_LEVELS:
            raise ValueError(f"channels: need 1 to {MAX_LEVELS} levels, got {len(self.channels)}")
        return self


class ShapesTrainConfig(TrainConfig):
    """The calibration's recipe (an 11.8M U-Net trained 3,752 steps on an H200 to size this experiment): constant
    lr 2e-4 after a short warm-up, batch 128, t uniform over the chain, and an exponential moving average of the
    weights, which is what gets sampled."""

    steps: Annotated[int, Ge(1), Le(200_000)] = 4000
    batch: Annotated[int, Ge(1), Le(20_000)] = 128
    lr: Annotated[float, Gt(0), Le(0.1)] = 2e-4
    lr_schedule: LrSchedule = "constant"
    warmup: Annotated[int, Ge(0), Le(10_000)] = 100
    low_t_share: Annotated[float, Ge(0), Lt(1)] = 0.0
    ema: Annotated[float, Ge(0), Lt(1)] = 0.999  # 0 turns the average off (the raw weights are sampled)


class ShapesConfig(StrictModel):
    """Everything that determines a trained shapes U-Net, hence its run id."""

    data: ShapesDataConfig = ShapesDataConfig()
    schedule: ShapesScheduleConfig = ShapesScheduleConfig()
    unet: UNetConfig = UNetConfig()
    train: ShapesTrainConfig = ShapesTrainConfig()

    @model_validator(mode="after")
    def _resolution_fits_levels(self) -> ShapesConfig:
        lowest = self.data.resolution >> (len(self.unet.channels) - 1)
        if lowest < 4:
            raise ValueError(
                f"unet.channels: {len(self.unet.channels)} levels take {self.data.resolution} px down to {lowest} px;"
                " the lowest level needs at least 4"
            )
        return self

    def canonical_json(self) -> str:
        """Sorted, compact JSON of every field (defaults written out): equal configs, equal bytes."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def run_id(self) -> str:
        """Content address of this config under the current algorithm version (16 hex digits)."""
        return hashlib.sha256(f"shapes/{ALGO_VERSION}/{self.canonical_json()}".encode()).hexdigest()[:16]


def oracle_identity(config: ShapesConfig) -> tuple[str, ShapesConfig]:
    """(run id, config as stored) of the exact denoiser of ``config``'s training set: it depends on the data and the
    schedule only, so the id hashes just those and the stored config keeps the default unet and train sections
    (the image counterpart of ``server.catalog.presets.run_identity``)."""
    oracle = ShapesConfig(data=config.data, schedule=config.schedule)
    payload = {"data": oracle.data.model_dump(mode="json"), "schedule": oracle.schedule.model_dump(mode="json")}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"shapes-oracle/{ALGO_VERSION}/{canonical}".encode()).hexdigest()[:16], oracle
