"""A Gaussian mixture and its exact diffusion quantities.

Target p_0(x) = Σ_k π_k N(x; μ_k, σ_k² I). Under x_t = a_t x_0 + s_t ε (a_t = √ᾱ_t, s_t = √(1 − ᾱ_t))
every component stays Gaussian, so with v_k = a_t² σ_k² + s_t²:

    p_t(x)            = Σ_k π_k N(x; a_t μ_k, v_k I)
    r_k(x)            ∝ π_k N(x; a_t μ_k, v_k I)                      (responsibilities)
    ∇ log p_t(x)      = Σ_k r_k (a_t μ_k − x) / v_k                    (score)
    ε*(x)             = −s_t ∇ log p_t(x)                              (what an ε-network learns)
    m_k               = (s_t² μ_k + a_t σ_k² x) / v_k                  (E[x_0 | x_t, k])
    E[x_0 | x_t = x]  = Σ_k r_k m_k                                    (the exact denoiser)
    tr Cov[x_0 | x_t] = Σ_k r_k (D σ_k² s_t² / v_k + ‖m_k − E[x_0|x_t]‖²)

All of it runs in float64 with log-sum-exp; a_t = 1, s_t = 0 gives the data density itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .config import MixtureSpec


def probabilities(weights: tuple[float, ...]) -> torch.Tensor:
    """Positive finite weights of any scale as probabilities (K,) float64 summing to 1.

    Scaled by a power of two first, so that the largest is below 1 and the sum cannot overflow
    (``[1e308] * 3`` is uniform); a power-of-two scale is exact, so ordinary weights give the same
    bits as ``w / w.sum()``."""
    exponent = math.frexp(max(weights))[1]
    scaled = torch.tensor([math.ldexp(w, -exponent) for w in weights], dtype=torch.float64)
    return scaled / scaled.sum()


@dataclass(frozen=True)
class GaussianMixture:
    means: torch.Tensor  # (K, D) float64, data units
    sigmas: torch.Tensor  # (K,) float64
    weights: torch.Tensor  # (K,) float64, sums to 1

    @classmethod
    def from_spec(cls, spec: MixtureSpec) -> GaussianMixture:
        means = torch.tensor(spec.means, dtype=torch.float64)
        K = means.shape[0]
        sigma = spec.sigma if isinstance(spec.sigma, tuple) else (spec.sigma,) * K
        return cls(means, torch.tensor(sigma, dtype=torch.float64), probabilities(spec.weights or (1.0,) * K))

    @property
    def n_modes(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    # ------------------------------------------------------------------ sampling

    def component_counts(self, n: int) -> np.ndarray:
        """Exactly balanced allocation (largest remainder): the official code gives sample i to mode i mod K."""
        quota = self.weights.numpy() * n
        counts = np.floor(quota).astype(np.int64)
        order = np.argsort(-(quota - counts), kind="stable")
        counts[order[: n - counts.sum()]] += 1
        return counts

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n points (n, D) float64 and their component index (n,)."""
        component = torch.repeat_interleave(
            torch.arange(self.n_modes), torch.from_numpy(self.component_counts(n))
        )
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[component] + self.sigmas[component, None] * noise, component

    # ------------------------------------------------------------------ exact p_t quantities

    def _component_terms(self, x: torch.Tensor, a: float, s: float) -> tuple[torch.Tensor, torch.Tensor]:
        """log π_k N(x; a μ_k, v_k I) as (N, K), and v_k as (K,)."""
        v = a**2 * self.sigmas**2 + s**2  # (K,)
        sq_dist = (x.to(torch.float64)[:, None, :] - a * self.means[None]).square().sum(dim=2)  # (N, K)
        log_norm = -0.5 * self.dim * torch.log(2 * math.pi * v)  # (K,)
        return torch.log(self.weights) + log_norm - sq_dist / (2 * v), v

    def log_density(self, x: torch.Tensor, a: float = 1.0, s: float = 0.0) -> torch.Tensor:
        """log p_t(x), (N,). Defaults give log p_0."""
        log_terms, _ = self._component_terms(x, a, s)
        return torch.logsumexp(log_terms, dim=1)

    def responsibilities(self, x: torch.Tensor, a: float, s: float) -> torch.Tensor:
        """r_k(x) = p(component k | x_t = x), (N, K)."""
        log_terms, _ = self._component_terms(x, a, s)
        return torch.softmax(log_terms, dim=1)

    def score(self, x: torch.Tensor, a: float, s: float) -> torch.Tensor:
        """∇_x log p_t(x), (N, D)."""
        log_terms, v = self._component_terms(x, a, s)
        r = torch.softmax(log_terms, dim=1)  # (N, K)
        x = x.to(torch.float64)
        # Σ_k r_k (a μ_k − x) / v_k = (r/v) @ (a μ) − x Σ_k r_k / v_k
        return (r / v) @ (a * self.means) - x * (r / v).sum(dim=1, keepdim=True)

    def eps_star(self, x: torch.Tensor, a: float, s: float) -> torch.Tensor:
        """The ideal ε-prediction −s_t ∇ log p_t(x), (N, D)."""
        return -s * self.score(x, a, s)

    def _component_posteriors(
        self, x: torch.Tensor, a: float, s: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """r (N, K), m_k (N, K, D) and v (K,)."""
        log_terms, v = self._component_terms(x, a, s)
        r = torch.softmax(log_terms, dim=1)
        x = x.to(torch.float64)
        # m_k = (s² μ_k + a σ_k² x) / v_k
        m = (s**2 * self.means[None] + a * self.sigmas[None, :, None] ** 2 * x[:, None, :]) / v[None, :, None]
        return r, m, v

    def posterior_mean(self, x: torch.Tensor, a: float, s: float) -> torch.Tensor:
        """E[x_0 | x_t = x], (N, D)."""
        r, m, _ = self._component_posteriors(x, a, s)
        return (r[:, :, None] * m).sum(dim=1)

    def posterior_variance(self, x: torch.Tensor, a: float, s: float) -> torch.Tensor:
        """tr Cov[x_0 | x_t = x] / D, (N,): the oracle's "how undecided is x_0" (per coordinate)."""
        r, m, v = self._component_posteriors(x, a, s)
        mean = (r[:, :, None] * m).sum(dim=1)  # (N, D)
        within = self.dim * self.sigmas**2 * s**2 / v  # (K,)
        between = (m - mean[:, None, :]).square().sum(dim=2)  # (N, K)
        return (r * (within[None] + between)).sum(dim=1) / self.dim
