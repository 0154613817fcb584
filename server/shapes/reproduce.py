"""``modelab reproduce shapes32|shapes64``: the Simple Shapes figures as one JSON-ready dict.

From a trained U-Net (the bundled checkpoint, or one trained on the spot): sample ``n`` images on a strided DDPM
chain, count them, score the detectors, look at the duplicates' bottleneck neighbours, and run the exact denoiser
on the same noise (``oracle_n`` samples with the same seed: the first rows of the noise agree only when
``oracle_n`` = ``n``, so the card says which). ``arrays`` are what the bundled sample set stores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from server.diffusion.config import SamplerConfig
from server.diffusion.sampling import Denoiser

from .bottleneck import bottleneck_evidence
from .config import ShapesConfig
from .counting import VALID, count_shapes
from .detection import denoising_error, detector_figures, nearest_train_distance, trajectory_variance_by_window
from .figures import combination_shares, is_duplicate, label_figures
from .sampling import ImageSamples, oracle_denoiser, sample_images, strided_schedule, unet_denoiser
from .training import training_set
from .unet import UNet

WINDOWS = [2, 5, 10, 20]  # K values whose trajectory variance is reported (the stored window is the largest)
DENOISING_T = 50  # of the T = 1000 chain: small enough that x_t still shows the image


@dataclass(frozen=True)
class ShapesReproduction:
    figures: dict[str, Any]
    arrays: dict[str, np.ndarray]  # the sample set: packed images, counts, labels, scores


def _log(log: TextIO | None, text: str) -> None:
    if log is not None:
        print(text, file=log, flush=True)


def reproduce_shapes(net: UNet, config: ShapesConfig, *, n: int = 2048, seed: int = 1, steps: int = 100,
                     oracle_n: int = 256, log: TextIO | None = None) -> ShapesReproduction:
    _log(log, f"sampling {n} images, DDPM, {steps}-step chain")
    model = sample_model(net, config, n=n, seed=seed, steps=steps)
    return analyse_samples(net, config, model, seed=seed, steps=steps, oracle_n=oracle_n, log=log)


def sample_model(net: UNet, config: ShapesConfig, *, n: int, seed: int, steps: int,
                 wrap: Callable[[Denoiser], Denoiser] | None = None) -> ImageSamples:
    """DDPM on the strided chain, keeping x̂0 over the largest window of ``WINDOWS``; ``wrap`` adapts the denoiser
    (bench/train_shapes_gpu.py runs the network on a GPU while the chain stays on the CPU)."""
    denoiser: Denoiser = unet_denoiser(net, config, steps)
    return sample_images(wrap(denoiser) if wrap else denoiser, config,
                         SamplerConfig(n=n, seed=seed, window=max(WINDOWS)), steps)


def merge_samples(parts: list[ImageSamples], resolution: int) -> ImageSamples:
    """Runs with different seeds as one sample set (recounted; seconds add up)."""
    samples = np.concatenate([p.samples for p in parts])
    return ImageSamples(samples=samples, x0_last=np.concatenate([p.x0_last for p in parts]),
                        counts=count_shapes(samples, resolution), seconds=sum(p.seconds for p in parts))


def analyse_samples(net: UNet, config: ShapesConfig, model: ImageSamples, *, seed: int, steps: int,
                    oracle_n: int = 256, log: TextIO | None = None) -> ShapesReproduction:
    """Everything but the model's sampling: counts, detectors, bottleneck neighbours, the exact denoiser's run with
    ``seed`` (the same noise as the model's first ``oracle_n`` samples when those were drawn with ``seed`` and
    n = ``oracle_n``)."""
    train = training_set(config.data)
    train_counts = count_shapes(train.images, config.data.resolution)
    schedule_long = strided_schedule(config, config.schedule.T)
    n = model.samples.shape[0]
    positive = is_duplicate(model.counts)
    _log(log, f"{n} samples ({model.seconds:.0f}s of sampling); scoring")
    start = time.perf_counter()
    variances = trajectory_variance_by_window(model.x0_last, WINDOWS)
    train_flat = train.images.reshape(len(train), -1).numpy()
    scores = {f"trajectory_variance_k{k}": v for k, v in variances.items()}
    scores["nearest_train_distance"] = nearest_train_distance(model.samples, train_flat)
    scores["denoising_error"] = denoising_error(net, schedule_long, model.samples, DENOISING_T, seed)
    detectors = {name: detector_figures(s, positive).as_dict(roc=name in ("trajectory_variance_k10",))
                 for name, s in scores.items()}
    # The same scores against valid images only: a weak model's malformed images (speckle, all white) are
    # unstable too, and "the rest" then mixes two kinds of failure.
    clean = positive | (model.counts.labels == VALID)
    vs_valid = {name: detector_figures(s[clean], positive[clean]).as_dict(roc=False) for name, s in scores.items()}
    evidence = bottleneck_evidence(net, train, model.samples, model.counts, np.flatnonzero(positive))
    scoring_seconds = time.perf_counter() - start

    _log(log, f"exact denoiser on {oracle_n} images, seed {seed}")
    oracle = sample_images(oracle_denoiser(config, steps), config, SamplerConfig(n=oracle_n, seed=seed), steps)
    best = max((k for k in detectors), key=lambda k: float(detectors[k]["auroc"]))  # type: ignore[arg-type]
    figures = {
        "dataset": f"shapes{config.data.resolution}", "run_id": config.run_id(),
        "duplicate_rule": "two or more components of one kind (triangle, square or pentagon) in one column; "
                          "detectors: duplicates vs all other samples; detectors_vs_valid: duplicates vs valid images",
        "training_set": {**label_figures(train_counts),
                         "combinations": combination_shares(train.present.numpy())},
        "model": {**label_figures(model.counts), "sampler": "ddpm", "chain_steps": steps,
                  "sampling_seconds": round(model.seconds, 1), "scoring_seconds": round(scoring_seconds, 1)},
        "detectors": detectors, "best_detector": best, "detectors_vs_valid": vs_valid,
        "window_effect": {str(k): detectors[f"trajectory_variance_k{k}"]["auroc"] for k in variances},
        "bottleneck": evidence.as_dict(),
        "oracle": {**label_figures(oracle.counts), "seed": seed, "chain_steps": steps,
                   "sampling_seconds": round(oracle.seconds, 1)},
    }
    arrays = {
        "images": np.packbits(model.samples > 0, axis=1),  # (N, D/8) uint8, bit-packed binarised x_0
        "resolution": np.array(config.data.resolution),
        "counts": model.counts.counts.astype(np.uint8),  # (N, 3, 4) per column and kind
        "labels": model.counts.labels.astype(np.uint8),  # (N,) index into counting.LABELS
        **{name: s.astype(np.float32) for name, s in scores.items()},
    }
    return ShapesReproduction(figures=figures, arrays=arrays)
