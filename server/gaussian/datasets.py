"""The paper's Gaussian-mixture datasets, and custom mixtures read from JSON.

Named datasets follow the official code (``ddpm_torch/toy/toy_data.py``):

* ``1d-123``  means {1, 2, 3}, σ 0.05, N 20,000 (raw units, not normalised);
* ``1d-1245`` means {1, 2, 4, 5}, σ 0.05, N 50,000;
* ``grid25``  modes 2·(i, j), i, j ∈ {−2 … 2}, σ 0.05, N 100,000, all divided by √(0.05² + 8) ≈ 2.8289
  (spacing 0.707, σ 0.0177 in data units);
* ``diamond25`` the same grid rotated by 45° and shrunk by 1/√2 (nearest spacing 0.5).

A dataset's mixture is stored in the units the network sees, so every label and formula uses them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from pydantic import ValidationError

from ..diffusion.config import describe_validation_error
from .config import DataConfig, MixtureSpec
from .mixture import GaussianMixture

GRID_SCALE = math.sqrt(0.05**2 + 2.0**2 * 2.0)  # ≈ 2.8289, the official normaliser of both 2D grids
_SQUARE = [(2.0 * i, 2.0 * j) for i in range(-2, 3) for j in range(-2, 3)]
# Official ``Gaussian25_Rotated`` modes before the ×2 scale: basis (0.5, 0.5) and (0.5, −0.5).
_DIAMOND = [(0.5 * (i + j), 0.5 * (j - i)) for i in range(-2, 3) for j in range(-2, 3)]


def _scaled(points: list[tuple[float, float]], scale: float) -> tuple[tuple[float, ...], ...]:
    return tuple((x / scale, y / scale) for x, y in points)


NAMED_MIXTURES: dict[str, MixtureSpec] = {
    "1d-123": MixtureSpec(means=((1.0,), (2.0,), (3.0,)), sigma=0.05, n=20_000),
    "1d-1245": MixtureSpec(means=((1.0,), (2.0,), (4.0,), (5.0,)), sigma=0.05, n=50_000),
    "grid25": MixtureSpec(means=_scaled(_SQUARE, GRID_SCALE), sigma=0.05 / GRID_SCALE, n=100_000),
    "diamond25": MixtureSpec(
        means=_scaled([(2.0 * x, 2.0 * y) for x, y in _DIAMOND], GRID_SCALE), sigma=0.05 / GRID_SCALE, n=100_000
    ),
}

DATASET_DESCRIPTIONS: dict[str, str] = {
    "1d-123": "1D, three equal modes at 1, 2, 3 (σ 0.05, N 20,000): the paper's first figure.",
    "1d-1245": "1D, modes at 1, 2, 4, 5 (σ 0.05, N 50,000): close pairs interpolate, the wider 2–4 gap less.",
    "grid25": "2D, 5×5 square grid (spacing 0.707, σ 0.0177, N 100,000): bridges along grid lines only.",
    "diamond25": "2D, the grid rotated 45° (nearest spacing 0.5): bridges follow the ±45° neighbours.",
}


def mixture_spec(data: DataConfig) -> MixtureSpec:
    """The mixture a data config trains on, with its N override applied."""
    spec = data.mixture if data.dataset == "custom" else NAMED_MIXTURES[data.dataset]
    assert spec is not None  # DataConfig guarantees a mixture for "custom"
    return spec if data.n is None else spec.model_copy(update={"n": data.n})


def training_set(data: DataConfig, generator: torch.Generator) -> tuple[torch.Tensor, GaussianMixture]:
    """The N training points (N, D) float32 drawn from the mixture, and the mixture itself."""
    spec = mixture_spec(data)
    mixture = GaussianMixture.from_spec(spec)
    points, _ = mixture.sample(spec.n, generator)
    return points.to(torch.float32), mixture


class MixtureFileError(ValueError):
    """A mixture file that cannot be used; the message names the problem."""


def read_mixture_file(path: Path) -> MixtureSpec:
    """Parse ``{"means": [[x, y], ...] | [x, ...], "sigma": s | [s_k, ...], "weights"?: [...], "n": N}``."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise MixtureFileError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise MixtureFileError(f"{path}: cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise MixtureFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(raw, dict):
        raise MixtureFileError(f"{path}: expected a JSON object with means, sigma, weights and n")
    try:
        return MixtureSpec.model_validate(raw)
    except ValidationError as exc:
        raise MixtureFileError(f"{path}: {describe_validation_error(exc)}") from exc
