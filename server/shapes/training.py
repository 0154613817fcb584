"""Training the shapes U-Net as a generator of progress, the loop of server/diffusion/training.py on images.

Objective (DDPM, ε-prediction): for x_0 a training image in {−1, 1}^(H×W), t from ``sample_timesteps`` and
ε ~ N(0, I), minimise ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖² with Adam (β 0.9, 0.999), the gradient norm clipped
at 1 (as ddpm-torch's image trainer), and an exponential moving average of the weights for sampling. No flips or
other augmentation: a mirrored image would put the triangle in the pentagon's column.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from server.diffusion.schedule import NoiseSchedule
from server.diffusion.training import TrainProgress, learning_rate, sample_timesteps, seeded_generator

from .config import ShapesConfig, ShapesDataConfig
from .generator import ShapesDataset, generate_shapes
from .unet import UNet

GRAD_CLIP = 1.0


def training_set(config: ShapesDataConfig) -> ShapesDataset:
    """The training images of a config: the same seed gives the same images everywhere (U-Net and oracle alike)."""
    return generate_shapes(config.n, config.resolution, seeded_generator(config.seed, "shapes"))


def ema_decay(decay: float, step: int) -> float:
    """The configured decay, lowered over the first steps ((1 + step) / (10 + step)) so that a short run's
    average is not dominated by the initial weights."""
    return min(decay, (1.0 + step) / (10.0 + step))


@dataclass
class ShapesTrainingSetup:
    """What a training run needs, built deterministically from a ``ShapesConfig``."""

    config: ShapesConfig
    schedule: NoiseSchedule
    dataset: ShapesDataset
    images: torch.Tensor  # (N, 1, H, W) float32 in {−1, 1}, on the training device
    net: UNet
    ema: UNet | None  # the averaged weights; None when config.train.ema is 0

    @classmethod
    def create(cls, config: ShapesConfig, device: str = "cpu") -> ShapesTrainingSetup:
        """Data and initial weights are drawn on the CPU (identical on every device), then moved."""
        s = config.schedule
        schedule = NoiseSchedule.create(s.kind, s.T, s.beta_start, s.beta_end)
        dataset = training_set(config.data)
        res = config.data.resolution
        images = dataset.model_input().reshape(-1, 1, res, res)
        net = UNet(config.unet, res, seeded_generator(config.train.seed, "init")).to(device)
        ema = copy.deepcopy(net).eval().requires_grad_(False) if config.train.ema > 0 else None
        return cls(config, schedule, dataset, images.to(device), net, ema)

    @property
    def sampling_net(self) -> UNet:
        """The weights to sample and to save: the average when there is one."""
        return self.ema if self.ema is not None else self.net


def train_steps(setup: ShapesTrainingSetup, *, report_every: int = 50) -> Iterator[TrainProgress]:
    """Train ``setup.net`` (and its average) in place; yield progress every ``report_every`` steps and at the end.

    Stopping the iteration (``close()`` or just not pulling) stops training between two steps.
    """
    cfg = setup.config.train
    net, images = setup.net.train(), setup.images
    device = images.device
    generator = seeded_generator(cfg.seed, "train", device)
    sqrt_abar = torch.tensor(setup.schedule.alphas_bar, dtype=torch.float32, device=device).sqrt()  # (T,)
    sqrt_one_minus_abar = torch.tensor(1.0 - setup.schedule.alphas_bar, dtype=torch.float32, device=device).sqrt()
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(0.9, 0.999), fused=device.type == "cuda")
    params = list(net.parameters())
    ema_params = list(setup.ema.parameters()) if setup.ema is not None else []
    N, T = images.shape[0], setup.schedule.T
    # The loss is summed on the device and read at reports only: a per-step .item() stalls a GPU.
    start, loss_sum, loss_count = time.perf_counter(), torch.zeros((), device=device), 0
    for step in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        x0 = images[torch.randint(N, (cfg.batch,), generator=generator, device=device)]  # (B, 1, H, W)
        t = sample_timesteps(cfg, T, generator)  # (B,)
        eps = torch.randn(x0.shape, generator=generator, device=device)
        x_t = sqrt_abar[t, None, None, None] * x0 + sqrt_one_minus_abar[t, None, None, None] * eps  # q_sample
        loss = F.mse_loss(net(x_t, t), eps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        optimizer.step()
        if ema_params:
            weight = 1.0 - ema_decay(cfg.ema, step)
            with torch.no_grad():
                for averaged, param in zip(ema_params, params, strict=True):
                    averaged.lerp_(param, weight)
        loss_sum += loss.detach()
        loss_count += 1
        if (step + 1) % report_every == 0 or step + 1 == cfg.steps:
            mean_loss = loss_sum.item() / loss_count  # synchronises the device, so elapsed is honest
            yield TrainProgress(step + 1, cfg.steps, mean_loss, time.perf_counter() - start)
            loss_sum.zero_()
            loss_count = 0
    net.eval()
