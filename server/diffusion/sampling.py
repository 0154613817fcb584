"""The reverse process as one step-by-step generator that the CLI, API, tests and benchmarks share.

Each step at timestep t (T−1 … 0) predicts ε̂ = ε_θ(x_t, t), forms the clean-sample estimate

    x̂0 = (x_t − s_t ε̂) / a_t                                    (a_t = √ᾱ_t, s_t = √(1 − ᾱ_t))

and moves to x_{t−1}:

* DDPM (ancestral, the paper's "fixed-large" variance σ_t² = β_t, no clipping):
      x_{t−1} = c1_t x̂0 + c2_t x_t + [t > 0] √β_t z  =  (x_t − β_t / s_t · ε̂) / √α_t + [t > 0] √β_t z
* DDIM(η) (Song et al. 2021):
      x_{t−1} = a_{t−1} x̂0 + √(1 − ᾱ_{t−1} − c²) ε̂ + c z,   c = η √β̃_t

A denoiser is anything with ``predict_eps(x_t, t)`` (``Denoiser``): a trained network or an exact
ε* (a data family's "oracle", e.g. ``server/gaussian/denoisers.py``), so both run through the very same
steps and the same seeded noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from .config import SamplerConfig
from .schedule import NoiseSchedule


class Denoiser(Protocol):
    dim: int

    def predict_eps(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        """ε̂ (N, D) for particles x_t (N, D) float32 that all sit at timestep t."""
        ...


@dataclass(frozen=True)
class ReverseStep:
    t: int  # timestep just denoised (T−1 … 0); t = T marks the initial noise x_T
    x: torch.Tensor  # (N, D) particles after the step, x_{t−1} (x_T for the initial frame)
    x0_pred: torch.Tensor | None  # (N, D) x̂0 predicted at t; None for the initial frame


def reverse_process(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    *,
    n: int,
    generator: torch.Generator,
    sampler: str = "ddpm",
    eta: float = 0.0,
) -> Iterator[ReverseStep]:
    """Yield the initial noise, then one ``ReverseStep`` per timestep from T−1 down to 0."""
    if sampler not in ("ddpm", "ddim"):
        raise ValueError(f"unknown sampler {sampler!r}; expected 'ddpm' or 'ddim'")
    device = generator.device  # particles live where the generator does
    x = torch.randn(n, denoiser.dim, generator=generator, device=device)  # x_T ~ N(0, I): same seed, same particles
    yield ReverseStep(t=schedule.T, x=x, x0_pred=None)
    for t in range(schedule.T - 1, -1, -1):
        eps = denoiser.predict_eps(x, t)
        a_t, s_t = schedule.signal_scale(t), schedule.noise_scale(t)
        # x̂0 is recorded, never divided back: early in a long chain a_t is ~1e-24 and x̂0 huge, so the
        # moves below use the equivalent ε-forms, whose coefficients stay O(1) in float32.
        x0_pred = (x - s_t * eps) / a_t
        if sampler == "ddpm":
            # c1_t x̂0 + c2_t x_t  =  (x_t − β_t / s_t · ε̂) / √α_t
            beta = float(schedule.betas[t])
            x = (x - (beta / s_t) * eps) / math.sqrt(1.0 - beta)
            if t > 0:
                x = x + math.sqrt(beta) * torch.randn(x.shape, generator=generator, device=device)
        else:
            abar_prev = float(schedule.alphas_bar_prev[t])
            c = eta * math.sqrt(schedule.posterior_variance(t))
            # a_{t−1} x̂0 = (a_{t−1} / a_t)(x_t − s_t ε̂), the ratio taken in float64
            ratio = math.sqrt(abar_prev / float(schedule.alphas_bar[t]))
            x = ratio * (x - s_t * eps) + math.sqrt(max(1.0 - abar_prev - c**2, 0.0)) * eps
            if c > 0:
                x = x + c * torch.randn(x.shape, generator=generator, device=device)
        yield ReverseStep(t=t, x=x, x0_pred=x0_pred)


@dataclass(frozen=True)
class SamplerResult:
    samples: np.ndarray  # (N, D) float32, x_0 after the last step
    x0_pred_last: np.ndarray  # (N, K, D) float32, x̂0 at t = K−1 … 0
    trajectory: np.ndarray | None  # (T + 1, N, D) float32: x_T, x_{T−1}, …, x_0 (on request)
    x0_trajectory: np.ndarray | None  # (T, N, D) float32: x̂0 at t = T−1 … 0 (on request)


def run_sampler(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    config: SamplerConfig,
    *,
    record_trajectory: bool = False,
    device: str = "cpu",
) -> SamplerResult:
    """Drive ``reverse_process`` to the end, keeping the last K x̂0 (and everything on request)."""
    window = min(config.window, schedule.T)
    generator = torch.Generator(device).manual_seed(config.seed)
    steps = reverse_process(
        denoiser, schedule, n=config.n, generator=generator, sampler=config.sampler, eta=config.eta
    )
    last_x0: list[torch.Tensor] = []
    xs: list[torch.Tensor] = []
    x0s: list[torch.Tensor] = []
    x = torch.empty(0)
    for step in steps:
        x = step.x
        if record_trajectory:
            xs.append(x)
        if step.x0_pred is not None:
            if record_trajectory:
                x0s.append(step.x0_pred)
            if step.t < window:
                last_x0.append(step.x0_pred)
    return SamplerResult(
        samples=x.cpu().numpy(),
        x0_pred_last=torch.stack(last_x0, dim=1).cpu().numpy(),
        trajectory=torch.stack(xs).cpu().numpy() if record_trajectory else None,
        x0_trajectory=torch.stack(x0s).cpu().numpy() if record_trajectory else None,
    )
