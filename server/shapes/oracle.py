"""The exact denoiser of a finite training set: what a perfectly fitted ε-network would output.

The training distribution is N point masses x_i (flattened images), so q(x_t) is a mixture of N Gaussians
N(a_t x_i, s_t² I) and

    x̂0*(x_t) = E[x0 | x_t] = Σ_i w_i x_i,   w = softmax_i(−‖x_t − a_t x_i‖² / (2 s_t²)),   ε* = (x_t − a_t x̂0*) / s_t

(the image counterpart of ``GaussianMixture.eps_star`` with σ = 0). Near t = 0 the weights are one-hot, so the
reverse process ends exactly on a training image: it never draws a combination the training set lacks.

The logits are O(D / s_t²) (≈ 10⁷ at the last step of a 64×64 chain) while their differences decide the weights, so
everything runs in float64 (float32 dot products move the weights of images between two modes by up to 0.5%). The
oracle keeps a float64 copy of the training set (164 MB for 5,000 images at 64×64) rather than convert it per step.
"""

from __future__ import annotations

import torch

from server.diffusion.schedule import NoiseSchedule


class ImageOracle:
    """``Denoiser`` over flattened images: ``predict_eps`` takes and returns (N, D) float32, D = H·W."""

    def __init__(self, images: torch.Tensor, schedule: NoiseSchedule):
        """images: (N_train, D) training set in model units ({−1, 1} for Simple Shapes)."""
        self.images = images.detach().cpu().double().contiguous()  # (N_train, D)
        self.half_sq_norms = 0.5 * self.images.square().sum(dim=1)  # (N_train,) ‖x_i‖² / 2
        self.schedule = schedule
        self.dim = self.images.shape[1]

    def posterior_mean(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        """x̂0* (N, D) float64 for x_t (N, D) at timestep t."""
        a, s = self.schedule.signal_scale(t), self.schedule.noise_scale(t)
        # −‖x − a x_i‖² / (2 s²) up to a term constant in i: a (x·x_i − a ‖x_i‖² / 2) / s²
        logits = (x_t.detach().cpu().double() @ self.images.T - a * self.half_sq_norms) * (a / (s * s))
        return torch.softmax(logits, dim=1) @ self.images  # (N, N_train) @ (N_train, D)

    def predict_eps(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        a, s = self.schedule.signal_scale(t), self.schedule.noise_scale(t)
        x0 = self.posterior_mean(x_t, t)
        return ((x_t.detach().cpu().double() - a * x0) / s).to(x_t.device, torch.float32)
