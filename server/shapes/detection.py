"""Hallucination detectors on images, scored against the counter's labels.

Scores, higher = more likely a duplicate:

* ``trajectory_variance``: the paper's score, the variance of x̂0 over the last K reverse steps averaged over pixels
  (server/diffusion/detectors.py); computed here for every K up to the stored window (the last k of the K kept);
* ``nearest_train_distance``: Hamming distance of the binarised sample to its nearest training image, in pixels
  (a sample that copies a training image scores 0);
* ``denoising_error``: ‖ε̂(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t) − ε‖² / D at one small t, one seeded ε per sample: how well the
  network explains its own output as data.

Positives are the duplicates, negatives every other sample (the calibration's rule: "duplicates vs the rest").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from server.diffusion.detectors import (
    auroc,
    auroc_standard_error,
    removed_at_kept,
    roc_curve,
    trajectory_variance,
)
from server.diffusion.schedule import NoiseSchedule

from .unet import UNet

Z95 = 1.959964
ROC_POINTS = 101  # the ROC is reported on a fixed FPR grid, so its size does not depend on N


def trajectory_variance_by_window(x0_last: np.ndarray, windows: list[int]) -> dict[int, np.ndarray]:
    """x0_last (N, K, D) → {k: (N,) variance over the last k steps} for each k ≤ K."""
    return {k: trajectory_variance(x0_last[:, -k:]) for k in windows if 2 <= k <= x0_last.shape[1]}


def nearest_train_distance(samples: np.ndarray, train: np.ndarray, *, chunk: int = 512) -> np.ndarray:
    """samples (N, D) real or bool, train (M, D) bool → (N,) pixels that differ from the nearest training image."""
    train_pm = torch.from_numpy(np.where(train, 1.0, -1.0).astype(np.float32))  # (M, D) ±1
    dim = train_pm.shape[1]
    out = np.empty(samples.shape[0])
    for start in range(0, samples.shape[0], chunk):
        on = np.asarray(samples[start:start + chunk]) > (0 if samples.dtype != bool else 0.5)
        x = torch.from_numpy(np.where(on, 1.0, -1.0).astype(np.float32))
        # Hamming distance between ±1 vectors: (D − x·y) / 2; the largest dot product is the nearest image
        out[start:start + chunk] = ((dim - (x @ train_pm.T).max(dim=1).values) / 2).numpy()
    return out


@torch.inference_mode()
def denoising_error(net: UNet, schedule: NoiseSchedule, samples: np.ndarray, t: int, seed: int,
                    *, chunk: int = 128) -> np.ndarray:
    """(N,) mean squared ε-prediction error of ``net`` on the binarised samples noised to timestep t of ``schedule``
    (the long training chain)."""
    res = net.resolution
    x0 = torch.from_numpy(np.where(np.asarray(samples) > 0, 1.0, -1.0).astype(np.float32))  # (N, D)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    a, s = schedule.signal_scale(t), schedule.noise_scale(t)
    emb = net.time_features(torch.tensor([t]))
    out = np.empty(x0.shape[0])
    for start in range(0, x0.shape[0], chunk):
        rows = slice(start, start + chunk)
        x_t = (a * x0[rows] + s * eps[rows]).reshape(-1, 1, res, res)
        pred = net.forward_with_time(x_t, emb).reshape(x_t.shape[0], -1)
        out[rows] = (pred - eps[rows]).square().mean(dim=1).numpy()
    return out


@dataclass(frozen=True)
class DetectorFigures:
    auroc: float
    auroc_ci95: tuple[float, float]
    removed_at_96_kept: float
    threshold_at_96_kept: float
    roc_fpr: list[float]
    roc_tpr: list[float]

    def as_dict(self, *, roc: bool = True) -> dict[str, object]:
        out: dict[str, object] = {
            "auroc": round(self.auroc, 4), "auroc_ci95": [round(v, 4) for v in self.auroc_ci95],
            "removed_at_96_kept": round(self.removed_at_96_kept, 4),
            "threshold_at_96_kept": float(f"{self.threshold_at_96_kept:.6g}"),
        }
        if roc:
            out["roc"] = {"fpr": self.roc_fpr, "tpr": self.roc_tpr}
        return out


def detector_figures(scores: np.ndarray, positive: np.ndarray) -> DetectorFigures:
    """AUROC with a 95% normal interval (Hanley–McNeil standard error), the share of positives removed when 96% of
    negatives are kept, and the ROC's TPR on a fixed FPR grid."""
    area = auroc(scores, positive)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    se = auroc_standard_error(area, n_pos, n_neg)
    point = removed_at_kept(scores, positive)
    curve = roc_curve(scores, positive)
    grid = np.linspace(0.0, 1.0, ROC_POINTS)
    tpr = np.interp(grid, curve.fpr, curve.tpr)
    return DetectorFigures(
        auroc=area, auroc_ci95=(max(0.0, area - Z95 * se), min(1.0, area + Z95 * se)),
        removed_at_96_kept=point.removed, threshold_at_96_kept=point.threshold,
        roc_fpr=[round(float(v), 4) for v in grid], roc_tpr=[round(float(v), 4) for v in tpr],
    )
