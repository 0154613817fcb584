"""Training the shapes U-Net: its data, initial weights and average, run by the core's loop
(``server/diffusion/training.py``'s ``train_steps``) with gradient clipping and the weight average switched on.

Objective (DDPM, ε-prediction): for x_0 a training image in {−1, 1}^(H×W), t from ``sample_timesteps`` and
ε ~ N(0, I), minimise ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖² with Adam (β 0.9, 0.999), the gradient norm clipped
at 1 (as ddpm-torch's image trainer), and an exponential moving average of the weights for sampling. No flips or
other augmentation: a mirrored image would put the triangle in the pentagon's column.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from server.diffusion.cancel import CancelToken
from server.diffusion.schedule import NoiseSchedule
from server.diffusion.training import TrainProgress, WeightAverage, seeded_generator
from server.diffusion.training import train_steps as core_train_steps

from .config import ShapesConfig, ShapesDataConfig
from .generator import ShapesDataset, generate_shapes
from .unet import UNet

GRAD_CLIP = 1.0


def training_set(config: ShapesDataConfig) -> ShapesDataset:
    """The training images of a config: the same seed gives the same images everywhere (U-Net and oracle alike)."""
    return generate_shapes(config.n, config.resolution, seeded_generator(config.seed, "shapes"))


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
    def data(self) -> torch.Tensor:
        """The training examples as the core loop reads them: (N, 1, H, W)."""
        return self.images

    @property
    def sampling_net(self) -> UNet:
        """The weights to sample and to save: the average when there is one."""
        return self.ema if self.ema is not None else self.net


def train_steps(setup: ShapesTrainingSetup, *, report_every: int = 50,
                cancel: CancelToken | None = None) -> Iterator[TrainProgress]:
    """The core loop on ``setup``: gradient norm clipped at ``GRAD_CLIP``, the average (if any) updated every step."""
    average = WeightAverage(setup.ema, setup.config.train.ema) if setup.ema is not None else None
    return core_train_steps(setup, report_every=report_every, cancel=cancel, grad_clip=GRAD_CLIP, average=average)
