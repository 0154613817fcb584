"""Sample images through the core's reverse process and count them: what ``modelab sample`` and the bundled sample
set share.

A network trained on the T = 1000 chain is sampled on a ``steps``-step strided chain (``UNetDenoiser`` stride
T / steps on the ``continuous`` schedule, whose ᾱ at step t is the long chain's at stride·(t + 1) − 1); the exact
denoiser is run on the same short schedule, so both see the same noise levels and, with one seed, the same noise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from server.diffusion.config import SamplerConfig
from server.diffusion.sampling import Denoiser, run_sampler
from server.diffusion.schedule import NoiseSchedule

from .config import ShapesConfig
from .counting import ShapeCounts, count_shapes
from .oracle import ImageOracle
from .training import training_set
from .unet import UNet, UNetDenoiser


def strided_schedule(config: ShapesConfig, steps: int) -> NoiseSchedule:
    """The ``steps``-step chain through the training chain's noise levels; ``steps`` must divide T."""
    s = config.schedule
    if not 1 <= steps <= s.T or s.T % steps:
        raise ValueError(f"steps: must divide T = {s.T}, got {steps}")
    if steps == s.T:
        return NoiseSchedule.create(s.kind, s.T, s.beta_start, s.beta_end)
    return NoiseSchedule.create("continuous", steps, s.beta_start, s.beta_end)


def unet_denoiser(net: UNet, config: ShapesConfig, steps: int, *, clip: bool = True) -> UNetDenoiser:
    """The U-Net on the ``steps``-step chain, x̂0 clipped to [−1, 1] unless ``clip`` is False."""
    return UNetDenoiser(net, stride=config.schedule.T // steps,
                        clip_schedule=strided_schedule(config, steps) if clip else None)


def oracle_denoiser(config: ShapesConfig, steps: int) -> ImageOracle:
    images = training_set(config.data).model_input()  # (N, D) in {−1, 1}
    return ImageOracle(images.reshape(images.shape[0], -1), strided_schedule(config, steps))


@dataclass(frozen=True)
class ImageSamples:
    samples: np.ndarray  # (N, D) float32, x_0
    x0_last: np.ndarray  # (N, K, D) float32, x̂0 at the last K steps (t = K−1 … 0)
    counts: ShapeCounts
    seconds: float  # wall time of the reverse process


def sample_images(denoiser: Denoiser, config: ShapesConfig, sampler: SamplerConfig, steps: int) -> ImageSamples:
    """Run ``sampler`` on the ``steps``-step chain and count the results (a pixel is on when x_0 > 0)."""
    schedule = strided_schedule(config, steps)
    start = time.perf_counter()
    with torch.inference_mode():
        result = run_sampler(denoiser, schedule, sampler)
    seconds = time.perf_counter() - start
    return ImageSamples(samples=result.samples, x0_last=result.x0_pred_last,
                        counts=count_shapes(result.samples, config.data.resolution), seconds=seconds)
