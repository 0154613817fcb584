"""The mixture experiment's training setup: schedule, drawn training set and fresh network from one config."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..diffusion.schedule import NoiseSchedule
from ..diffusion.training import seeded_generator
from .config import ExperimentConfig
from .costs import Estimate, duration, train_step_seconds
from .datasets import mixture_spec, training_set
from .mixture import GaussianMixture
from .nets import ResidualMLP


@dataclass
class TrainingSetup:
    """What a training run needs, built deterministically from an ``ExperimentConfig``."""

    config: ExperimentConfig
    schedule: NoiseSchedule
    mixture: GaussianMixture
    data: torch.Tensor  # (N, D) float32
    net: ResidualMLP

    @classmethod
    def create(cls, config: ExperimentConfig, device: str = "cpu") -> TrainingSetup:
        """Data and initial weights are drawn on the CPU (identical on every device), then moved."""
        s = config.schedule
        schedule = NoiseSchedule.create(s.kind, s.T, s.beta_start, s.beta_end)
        data, mixture = training_set(config.data, seeded_generator(config.train.seed, "data"))
        net = ResidualMLP(config.net, mixture.dim, seeded_generator(config.train.seed, "init"))
        return cls(config, schedule, mixture, data.to(device), net.to(device))


def training_cost(config: ExperimentConfig) -> Estimate:
    """Estimated seconds to train ``config`` on one core (``costs``): steps × one step of ``batch`` rows."""
    step = train_step_seconds(config.net, mixture_spec(config.data).dim, config.train.batch)
    return Estimate(config.train.steps * step, step, f"{config.train.steps:,} steps × {duration(step)}")
