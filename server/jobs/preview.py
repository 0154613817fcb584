"""What a training job shows of its network while it learns: x̂0 on a fixed grid at one noise level, beside the
exact denoiser's x̂0 on the same grid (the page draws both next to the loss curve).

The grid is in data units (x_t / √ᾱ_t): 161 points across the modes in 1D, 25 × 25 in 2D. The noise level is the
step whose s_t / a_t is closest to 0.2 × the smallest gap between mode means: there the exact x̂0 is a staircase
(flat at each mode, a sharp step between two) while an early network draws a smooth ramp, so the ramp visibly
sharpens as it learns. Nothing is random: a fixed grid needs no generator.

Cost: one forward pass over ≤ 625 rows every ``preview_every(steps)`` steps (≥ 20 steps, at most ~50 previews a
run), measured in ``bench/bench_preview.py`` against the training steps themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..diffusion.schedule import NoiseSchedule
from ..gaussian.mixture import GaussianMixture
from ..gaussian.nets import ResidualMLP
from ..streaming.encode import typed_array

GRID_1D = 161
GRID_2D = 25
PREVIEWS = 50  # at most this many previews a run
MIN_EVERY = 50  # steps between previews at least: a preview costs 1–5 ms, a step at batch 256 about 4 ms
GAP_FRACTION = 0.2


def preview_every(steps: int) -> int:
    return max(MIN_EVERY, math.ceil(steps / PREVIEWS))


@dataclass(frozen=True)
class PreviewGrid:
    """The fixed part of a job's previews: where x̂0 is evaluated, at which step, and the exact answer there."""

    t: int
    a: float
    s: float
    grid: torch.Tensor  # (G, D) float32, data units
    exact: np.ndarray  # (G, D) float32: the exact x̂0

    @classmethod
    def create(cls, mixture: GaussianMixture, schedule: NoiseSchedule) -> PreviewGrid:
        means, sigmas = mixture.means, mixture.sigmas
        if mixture.n_modes > 1:
            gaps = torch.cdist(means, means).masked_fill(torch.eye(mixture.n_modes, dtype=torch.bool), math.inf)
            gap = float(gaps.min())
        else:
            gap = float(sigmas[0]) * 4
        ratios = np.sqrt(1.0 - schedule.alphas_bar) / np.sqrt(schedule.alphas_bar)  # s_t / a_t, increasing in t
        t = int(np.argmin(np.abs(ratios - GAP_FRACTION * gap)))
        a, s = schedule.signal_scale(t), schedule.noise_scale(t)
        margin = 3 * float(sigmas.max()) + gap / 2
        lo, hi = means.min(dim=0).values - margin, means.max(dim=0).values + margin
        axes = [torch.linspace(float(lo[d]), float(hi[d]), GRID_1D if mixture.dim == 1 else GRID_2D,
                               dtype=torch.float64) for d in range(mixture.dim)]
        grid = torch.stack([g.reshape(-1) for g in torch.meshgrid(*axes, indexing="xy")], dim=1)
        exact = mixture.posterior_mean(a * grid, a, s).to(torch.float32).numpy()
        return cls(t, a, s, grid.to(torch.float32), exact)

    @torch.no_grad()
    def learned(self, net: ResidualMLP) -> np.ndarray:
        """(G, D) x̂0 = (x_t − s ε̂) / a of ``net`` at x_t = a × grid."""
        x_t = self.a * self.grid
        eps = net(x_t, torch.full((len(x_t),), self.t, dtype=torch.long))
        return ((x_t - self.s * eps) / self.a).numpy()

    def payload(self, step: int, learned: np.ndarray) -> dict[str, Any]:
        """A progress event's ``preview``: typed arrays (server.streaming.encode) of shape (G, D)."""
        return {"step": step, "t": self.t, "noise": round(self.s / self.a, 4),
                "grid": typed_array(self.grid.numpy(), "f4"), "exact": typed_array(self.exact, "f4"),
                "learned": typed_array(learned, "f4")}
