"""The core's settings, for any data: strict, frozen pydantic models with bounds.

These models are the single source of defaults for the CLI, the API, URL links and the tests.
Unknown keys, out-of-range values and wrong types are errors that name the field and the limit,
never silent fallbacks. A data family adds its own (``server/gaussian/config.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from .schedule import ScheduleKind

# Bump whenever the training, sampling or labelling algorithm changes results: it is part of every run id. Not
# versioned: floating-point evaluation order (thread count, CPU kernels, fused matrix products), which moves results
# by rounding only. Results are bit-identical for one code version on one machine; a stored result is replayed as
# stored, so its links do not depend on this.
ALGO_VERSION = "1"

SamplerKind = Literal["ddpm", "ddim"]
LrSchedule = Literal["constant", "cosine"]


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


class TrainConfig(StrictModel):
    """Optimiser recipe. Defaults are the CPU recipe chosen in ``server/gaussian/recipes.py`` (see why there)."""

    steps: Annotated[int, Ge(1), Le(200_000)] = 3000
    batch: Annotated[int, Ge(1), Le(20_000)] = 2048
    lr: Annotated[float, Gt(0), Le(0.1)] = 2e-2
    lr_schedule: LrSchedule = "cosine"
    warmup: Annotated[int, Ge(0), Le(10_000)] = 100
    # Share of each batch whose t is drawn from the first ``low_t_frac`` of the chain instead of all of it.
    low_t_share: Annotated[float, Ge(0), Lt(1)] = 0.7
    low_t_frac: Annotated[float, Gt(0), Le(1)] = 0.05
    seed: Annotated[int, Ge(0), Le(2**31 - 1)] = 0


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


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field.path: message`` (model-level checks already name their field)."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"]
        if err["type"] == "value_error" and "error" in err.get("ctx", {}):
            message = str(err["ctx"]["error"])  # drop pydantic's "Value error, " prefix
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
