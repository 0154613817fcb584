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


# ----------------------------------------------------------------------------- one step, in the paper's notation


def predict_x0(schedule: NoiseSchedule, t: int, x_t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x̂0 = (x_t − s_t ε̂) / a_t.

    Recorded, never divided back: early in a long chain a_t is ~1e-24 and x̂0 huge, so the steps below
    use the equivalent ε-forms, whose coefficients stay O(1) in float32."""
    a_t, s_t = schedule.signal_scale(t), schedule.noise_scale(t)
    return (x_t - s_t * eps) / a_t


def ddpm_step(schedule: NoiseSchedule, t: int, x_t: torch.Tensor, eps: torch.Tensor,
              z: torch.Tensor | None) -> torch.Tensor:
    """x_{t−1} = c1_t x̂0 + c2_t x_t + √β_t z  =  (x_t − β_t / s_t · ε̂) / √α_t + √β_t z.

    ``z`` ~ N(0, I) like x_t for t > 0, None at t = 0 (the last step adds no noise)."""
    beta = float(schedule.betas[t])
    x = (x_t - (beta / schedule.noise_scale(t)) * eps) / math.sqrt(1.0 - beta)
    return x if z is None else x + math.sqrt(beta) * z


def ddim_noise_scale(schedule: NoiseSchedule, t: int, eta: float) -> float:
    """c = η √β̃_t: DDIM's fresh-noise scale (0 for the deterministic η = 0, and at t = 0)."""
    return eta * math.sqrt(schedule.posterior_variance(t))


def ddim_step(schedule: NoiseSchedule, t: int, x_t: torch.Tensor, eps: torch.Tensor, eta: float,
              z: torch.Tensor | None) -> torch.Tensor:
    """x_{t−1} = a_{t−1} x̂0 + √(1 − ᾱ_{t−1} − c²) ε̂ + c z, with c = ``ddim_noise_scale`` (``z`` None when c = 0)."""
    abar_prev = float(schedule.alphas_bar_prev[t])
    c = ddim_noise_scale(schedule, t, eta)
    # a_{t−1} x̂0 = (a_{t−1} / a_t)(x_t − s_t ε̂), the ratio taken in float64
    ratio = math.sqrt(abar_prev / float(schedule.alphas_bar[t]))
    x = ratio * (x_t - schedule.noise_scale(t) * eps) + math.sqrt(max(1.0 - abar_prev - c**2, 0.0)) * eps
    return x if z is None else x + c * z


def windowed_x0(step: ReverseStep, window: int) -> torch.Tensor | None:
    """The step's x̂0 when it is one of the last ``window`` (t = K−1 … 0), the trajectory-variance
    detector's input; None otherwise. Every sampling loop keeps its window through this."""
    return step.x0_pred if step.x0_pred is not None and step.t < window else None


# ----------------------------------------------------------------------------- the reverse process


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
        x0_pred = predict_x0(schedule, t, x, eps)
        noisy = t > 0 if sampler == "ddpm" else ddim_noise_scale(schedule, t, eta) > 0
        z = torch.randn(x.shape, generator=generator, device=device) if noisy else None
        x = ddpm_step(schedule, t, x, eps, z) if sampler == "ddpm" else ddim_step(schedule, t, x, eps, eta, z)
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
        if step.x0_pred is not None and record_trajectory:
            x0s.append(step.x0_pred)
        kept = windowed_x0(step, window)
        if kept is not None:
            last_x0.append(kept)
    return SamplerResult(
        samples=x.cpu().numpy(),
        x0_pred_last=torch.stack(last_x0, dim=1).cpu().numpy(),
        trajectory=torch.stack(xs).cpu().numpy() if record_trajectory else None,
        x0_trajectory=torch.stack(x0s).cpu().numpy() if record_trajectory else None,
    )
