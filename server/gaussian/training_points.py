"""Training on given points instead of a fresh draw from the mixture (recursive training, paper §3.9).

A generation of the recursive experiment trains on the previous generation's samples. Its
``ExperimentConfig`` still names the ORIGINAL mixture (``config.data``): that is what samples are
labelled against, and what sets the network's input dimension. The points replace the mixture draw.

The config's own run id does not see the points, so a points-trained model has its own id:
``points_run_id(config, points)`` = hash of the config's run id and the points' bytes. Configs that
train on the mixture keep their run ids unchanged.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ..diffusion.schedule import NoiseSchedule
from ..diffusion.training import seeded_generator
from .config import ExperimentConfig
from .datasets import mixture_spec
from .mixture import GaussianMixture
from .nets import ResidualMLP
from .training import TrainingSetup


def points_digest(points: np.ndarray | torch.Tensor) -> str:
    """16 hex digits of the float32 bytes of (N, D) points (C order)."""
    array = np.ascontiguousarray(np.asarray(points, dtype=np.float32))
    header = f"{array.shape}".encode()
    return hashlib.sha256(header + array.tobytes()).hexdigest()[:16]


def points_run_id(config: ExperimentConfig, points: np.ndarray | torch.Tensor) -> str:
    """Content address of "this config, trained on these points" (16 hex digits)."""
    payload = f"points/{config.run_id()}/{points_digest(points)}".encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def setup_from_points(
    config: ExperimentConfig, points: np.ndarray | torch.Tensor, device: str = "cpu"
) -> TrainingSetup:
    """A ``TrainingSetup`` whose data are ``points`` (N, D); init weights from ``config.train.seed`` as usual."""
    data = torch.as_tensor(np.asarray(points, dtype=np.float32))  # (N, D)
    mixture = GaussianMixture.from_spec(mixture_spec(config.data))
    if data.ndim != 2 or data.shape[1] != mixture.dim or data.shape[0] < 1:
        raise ValueError(f"points: expected shape (N, {mixture.dim}) with N >= 1, got {tuple(data.shape)}")
    if not torch.isfinite(data).all():
        raise ValueError("points: every coordinate must be finite")
    s = config.schedule
    schedule = NoiseSchedule.create(s.kind, s.T, s.beta_start, s.beta_end)
    net = ResidualMLP(config.net, mixture.dim, seeded_generator(config.train.seed, "init"))
    return TrainingSetup(config, schedule, mixture, data.to(device), net.to(device))
