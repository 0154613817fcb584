"""The forward (noising) process: β_t, ᾱ_t and every coefficient the samplers read.

Index convention of the official code (locuslab/diffusion-model-hallucination, ddpm_torch):
t runs 0 … T−1, ᾱ_t = ∏_{s=0}^{t} (1 − β_s), so even the last reverse step (t = 0) still sees
noise of std √(1 − ᾱ_0); ᾱ_{−1} := 1 in the posterior coefficients.

Two schedule kinds:

* ``linear``: the paper's β_t linear from β_start to β_end over the T steps (official code). Changing T
  changes the ᾱ curve drastically, which is why the second kind exists.
* ``continuous``: ᾱ(τ), τ ∈ [0, 1], is the ``linear`` curve of a reference T_ref = 1000 run, with
  log ᾱ interpolated linearly between its knots τ_k = k / T_ref. Step t of a T-step chain sits at
  τ = (t + 1) / T. At T = 1000 it equals ``linear`` exactly; at other T it keeps the same curve and
  only changes how finely it is walked.

Everything is computed in float64; the samplers read plain Python floats per step because all
particles share one t.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

ScheduleKind = Literal["linear", "continuous"]
T_REF = 1000  # the paper's T; the continuous schedule is anchored to it


def linear_betas(beta_start: float, beta_end: float, T: int) -> np.ndarray:
    """β_t for t = 0 … T−1, linear in t (DDPM, Ho et al. 2020; the paper uses 0.001 → 0.2)."""
    return np.linspace(beta_start, beta_end, T, dtype=np.float64)


def continuous_alphas_bar(beta_start: float, beta_end: float, T: int) -> np.ndarray:
    """ᾱ_t for t = 0 … T−1 read off the T_ref-step linear curve at τ = (t + 1) / T."""
    ref_log_abar = np.concatenate([[0.0], np.cumsum(np.log1p(-linear_betas(beta_start, beta_end, T_REF)))])
    knots = np.arange(T_REF + 1, dtype=np.float64) / T_REF  # τ_k, with ᾱ(0) = 1
    tau = np.arange(1, T + 1, dtype=np.float64) / T
    return np.exp(np.interp(tau, knots, ref_log_abar))


@dataclass(frozen=True)
class NoiseSchedule:
    """Per-timestep coefficients of q(x_t | x_0) and q(x_{t−1} | x_t, x_0); arrays have shape (T,)."""

    betas: np.ndarray  # β_t
    alphas_bar: np.ndarray  # ᾱ_t
    alphas_bar_prev: np.ndarray  # ᾱ_{t−1}, with ᾱ_{−1} = 1

    @classmethod
    def create(cls, kind: ScheduleKind, T: int, beta_start: float, beta_end: float) -> NoiseSchedule:
        if T < 1:
            raise ValueError(f"T must be at least 1, got {T}")
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
        if kind == "linear":
            betas = linear_betas(beta_start, beta_end, T)
            alphas_bar = np.cumprod(1.0 - betas)
        elif kind == "continuous":
            alphas_bar = continuous_alphas_bar(beta_start, beta_end, T)
            betas = 1.0 - alphas_bar / np.concatenate([[1.0], alphas_bar[:-1]])
        else:
            raise ValueError(f"unknown schedule kind {kind!r}; expected 'linear' or 'continuous'")
        alphas_bar_prev = np.concatenate([[1.0], alphas_bar[:-1]])
        return cls(betas=betas, alphas_bar=alphas_bar, alphas_bar_prev=alphas_bar_prev)

    @property
    def T(self) -> int:
        return len(self.betas)

    # q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I); used by training and by the exact mixture formulas.
    def signal_scale(self, t: int) -> float:
        """a_t = √ᾱ_t."""
        return float(np.sqrt(self.alphas_bar[t]))

    def noise_scale(self, t: int) -> float:
        """s_t = √(1 − ᾱ_t)."""
        return float(np.sqrt(1.0 - self.alphas_bar[t]))

    # q(x_{t−1} | x_t, x_0) = N(c1_t x_0 + c2_t x_t, β̃_t I). The DDPM step (``sampling.ddpm_step``) is this mean
    # with x̂0 for x_0, computed in its ε-form; these coefficients state it, and the tests check them.
    def posterior_mean_coefs(self, t: int) -> tuple[float, float]:
        """(c1_t, c2_t) = (β_t √ᾱ_{t−1} / (1 − ᾱ_t), √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t))."""
        beta, abar, abar_prev = self.betas[t], self.alphas_bar[t], self.alphas_bar_prev[t]
        c1 = beta * np.sqrt(abar_prev) / (1.0 - abar)
        c2 = np.sqrt(1.0 - beta) * (1.0 - abar_prev) / (1.0 - abar)
        return float(c1), float(c2)

    def posterior_variance(self, t: int) -> float:
        """β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t); the "fixed-small" variance, and DDIM's η scale."""
        return float(self.betas[t] * (1.0 - self.alphas_bar_prev[t]) / (1.0 - self.alphas_bar[t]))
