"""Training as a generator of progress, so a caller can stream it and stop it between steps.

Objective (DDPM, ε-prediction, as the paper): for x_0 from the training set, t ~ U{0 … T−1} and
ε ~ N(0, I), minimise ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖² with Adam (β 0.9, 0.999).

The paper trains 100,000 steps at batch 10,000 (≈5 hours on our 2 cores); ``server/gaussian/recipes.py`` holds
the measured CPU recipe and why. This module only runs whatever ``TrainConfig`` and ``TrainSetup`` it is given.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .cancel import CancelToken, check
from .config import TrainConfig
from .schedule import NoiseSchedule


def seeded_generator(seed: int, stream: str, device: str | torch.device = "cpu") -> torch.Generator:
    """An independent, reproducible generator per purpose ("data", "init", "train", …)."""
    digest = hashlib.sha256(f"{seed}/{stream}".encode()).digest()
    return torch.Generator(device).manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then constant or cosine decay to zero (step counts from 0)."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    if config.lr_schedule == "constant":
        return config.lr
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def sample_timesteps(config: TrainConfig, T: int, generator: torch.Generator) -> torch.Tensor:
    """(B,) training timesteps: uniform over the chain, with ``low_t_share`` of them from its start.

    Any t distribution with full support has the same per-t optimum ε*(x, t); moving samples to small
    t only moves the network's effort to where the modes are decided (ᾱ_t > 0.3 only for t < 100).
    """
    device = generator.device
    t = torch.randint(T, (config.batch,), generator=generator, device=device)
    n_low = round(config.low_t_share * config.batch)
    if n_low:
        t_low_max = max(1, round(config.low_t_frac * T))
        t[:n_low] = torch.randint(t_low_max, (n_low,), generator=generator, device=device)
    return t


def warm_up() -> None:
    """Build one optimizer now: torch's first ``Adam`` imports ``torch._dynamo`` (about 800 modules, 5–8 s on the
    development machine), which the first training job would otherwise spend before its first cancel check."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


@dataclass(frozen=True)
class TrainProgress:
    step: int  # optimiser steps done
    steps: int  # total planned
    loss: float  # mean loss over the steps since the previous report
    elapsed: float  # seconds since training started


class _HasTrainConfig(Protocol):
    @property
    def train(self) -> TrainConfig: ...


class TrainSetup(Protocol):
    """What ``train_steps`` needs; a data family builds it (``server/gaussian/training.py``)."""

    @property
    def config(self) -> _HasTrainConfig: ...

    @property
    def schedule(self) -> NoiseSchedule: ...

    @property
    def data(self) -> torch.Tensor: ...  # (N, ...) float32 training examples

    @property
    def net(self) -> nn.Module: ...  # ε_θ(x_t, t)


def ema_decay(decay: float, step: int) -> float:
    """The configured decay, lowered over the first steps ((1 + step) / (10 + step)) so that a short run's
    average is not dominated by the initial weights."""
    return min(decay, (1.0 + step) / (10.0 + step))


@dataclass(frozen=True)
class WeightAverage:
    """An exponential moving average of the trained weights (the copy to sample from): θ̄ ← θ̄ + (1 − d)(θ − θ̄)."""

    net: nn.Module  # same architecture as the trained net, its parameters updated in place
    decay: float  # the configured d; lowered early by ``ema_decay``


def train_steps(setup: TrainSetup, *, report_every: int = 50, cancel: CancelToken | None = None,
                grad_clip: float | None = None, average: WeightAverage | None = None) -> Iterator[TrainProgress]:
    """Train ``setup.net`` in place; yield progress every ``report_every`` steps and at the end.

    Stopping the iteration (``close()`` or just not pulling) stops training between two steps; so does
    ``cancel``, checked before every step (raises ``Cancelled``), however rarely progress is reported.
    ``grad_clip`` clips the gradient's global norm before each step; ``average`` is updated after each step.
    Neither changes anything when left out (the Gaussian recipes use neither; the image U-Net uses both).
    """
    cfg = setup.config.train
    net, data = setup.net.train(), setup.data
    device = data.device
    generator = seeded_generator(cfg.seed, "train", device)
    sqrt_abar = torch.tensor(setup.schedule.alphas_bar, dtype=torch.float32, device=device).sqrt()  # (T,)
    sqrt_one_minus_abar = torch.tensor(1.0 - setup.schedule.alphas_bar, dtype=torch.float32, device=device).sqrt()
    # fused Adam is one kernel per step on CUDA; the CPU build uses the default for-each version.
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(0.9, 0.999), fused=device.type == "cuda")
    params = list(net.parameters())
    averaged = list(average.net.parameters()) if average is not None else []
    N, T = data.shape[0], setup.schedule.T
    example_axes = (1,) * (data.dim() - 1)  # (B,) → (B, 1) for points, (B, 1, 1, 1) for images: broadcasts over x0
    # The loss is summed on the device and read at reports only: a per-step .item() stalls a GPU.
    start, loss_sum, loss_count = time.perf_counter(), torch.zeros((), device=device), 0
    for step in range(cfg.steps):
        check(cancel)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        x0 = data[torch.randint(N, (cfg.batch,), generator=generator, device=device)]  # (B, ...)
        t = sample_timesteps(cfg, T, generator)  # (B,)
        eps = torch.randn(x0.shape, generator=generator, device=device)
        signal, noise = sqrt_abar[t].view(-1, *example_axes), sqrt_one_minus_abar[t].view(-1, *example_axes)
        x_t = signal * x0 + noise * eps  # q_sample
        loss = F.mse_loss(net(x_t, t), eps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        if average is not None:
            weight = 1.0 - ema_decay(average.decay, step)
            with torch.no_grad():
                for mean, param in zip(averaged, params, strict=True):
                    mean.lerp_(param, weight)
        loss_sum += loss.detach()
        loss_count += 1
        if (step + 1) % report_every == 0 or step + 1 == cfg.steps:
            mean_loss = loss_sum.item() / loss_count  # synchronises the device, so elapsed is honest
            yield TrainProgress(step + 1, cfg.steps, mean_loss, time.perf_counter() - start)
            loss_sum.zero_()
            loss_count = 0
    net.eval()
