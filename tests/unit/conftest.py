"""Shared fixtures for the engine unit tests: one torch thread, explicit generators, paper mixtures."""

from __future__ import annotations

import pytest
import torch

from server.diffusion.schedule import NoiseSchedule
from server.gaussian.config import ExperimentConfig
from server.gaussian.datasets import NAMED_MIXTURES
from server.gaussian.mixture import GaussianMixture

# Results are reproducible per thread count; one thread also keeps the 2-core CI machine responsive.
torch.set_num_threads(1)


@pytest.fixture
def paper_schedule() -> NoiseSchedule:
    """The paper's forward process: linear β 0.001 → 0.2 over T = 1000."""
    return NoiseSchedule.create("linear", 1000, 0.001, 0.2)


@pytest.fixture
def grid25() -> GaussianMixture:
    return GaussianMixture.from_spec(NAMED_MIXTURES["grid25"])


@pytest.fixture
def diamond25() -> GaussianMixture:
    return GaussianMixture.from_spec(NAMED_MIXTURES["diamond25"])


@pytest.fixture
def mix_1d_123() -> GaussianMixture:
    return GaussianMixture.from_spec(NAMED_MIXTURES["1d-123"])


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny_experiment(dataset: str, *, n: int, steps: int) -> ExperimentConfig:
    """A config whose network trains in milliseconds (T 20, width 16, one block, batch 32), for plumbing tests."""
    return ExperimentConfig.model_validate({
        "data": {"dataset": dataset, "n": n},
        "schedule": {"T": 20},
        "net": {"width": 16, "blocks": 1},
        "train": {"steps": steps, "batch": 32, "warmup": 2},
    })
