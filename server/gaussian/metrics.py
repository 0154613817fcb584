"""One summary of a batch of generated samples against the exact mixture.

These are the figures ``modelab reproduce`` prints and the README reports; each is defined here,
once, for the CLI, the API, the tests and the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..diffusion.detectors import PAPER_KEPT, auroc, auroc_standard_error, removed_at_kept, trajectory_variance
from .ground_truth import (
    BETWEEN_MODES,
    IN_SUPPORT,
    OUTSIDE,
    SUPPORT_RADIUS_SIGMA,
    SampleLabels,
    distance_to_segments,
    label_samples,
    nearest_neighbour_pairs,
    second_nearest_pairs,
)
from .mixture import GaussianMixture

BRIDGE_TOLERANCE = 0.1  # data units: "on a nearest-neighbour segment" (issue #2's target)


def summarize(
    samples: np.ndarray,
    x0_pred_last: np.ndarray,
    mixture: GaussianMixture,
    *,
    radius_sigma: float = SUPPORT_RADIUS_SIGMA,
    labels: SampleLabels | None = None,
    variance: np.ndarray | None = None,
) -> dict[str, Any]:
    """Shares (fractions of all samples unless said otherwise) and detector figures.

    ``labels`` and ``variance`` (the trajectory variance of ``x0_pred_last``) skip recomputing what a
    caller already has."""
    labels = labels or label_samples(samples, mixture, radius_sigma)
    n = len(samples)
    means = mixture.means.numpy()
    in_support = labels.label == IN_SUPPORT
    between = labels.label == BETWEEN_MODES
    per_mode = np.bincount(labels.nearest_mode[in_support], minlength=mixture.n_modes) / n
    variance = trajectory_variance(x0_pred_last) if variance is None else variance
    positive = labels.hallucinated
    operating = removed_at_kept(variance, positive, PAPER_KEPT)
    area = auroc(variance, positive)
    summary: dict[str, Any] = {
        "n_samples": n,
        "radius_sigma": radius_sigma,
        "share_in_support": float(in_support.mean()),
        "share_between_modes": float(between.mean()),
        "share_outside": float((labels.label == OUTSIDE).mean()),
        "per_mode_share": [round(float(s), 5) for s in per_mode],
        "per_mode_share_min": float(per_mode.min()),
        "per_mode_share_max": float(per_mode.max()),
        "variance_auroc": area,
        "variance_auroc_standard_error": auroc_standard_error(area, int(positive.sum()), int((~positive).sum())),
        "removed_at_96_kept": operating.removed,
        "variance_threshold_at_96_kept": operating.threshold,
        "variance_median_in_support": float(np.median(variance[in_support])) if in_support.any() else None,
        "variance_median_hallucinated": float(np.median(variance[positive])) if positive.any() else None,
    }
    if mixture.n_modes > 1:
        pairs = nearest_neighbour_pairs(means)
        spacing = float(np.linalg.norm(means[pairs[:, 0]] - means[pairs[:, 1]], axis=1).min())
        if between.any():
            d = distance_to_segments(samples[between], means, pairs)
            summary["between_on_nn_segments"] = float((d <= BRIDGE_TOLERANCE).mean())
            # Between-mode samples far (> spacing / 4) from every nearest-neighbour segment: on a grid,
            # the cell interiors and diagonals.
            summary["share_off_bridges"] = float((d > spacing / 4).sum() / n)
            # Of the between-mode samples, those on a segment joining second-nearest modes (the diagonals of the
            # square grid; the same-y pairs of the diamond) and on no nearest-neighbour segment.
            second = second_nearest_pairs(means)
            if len(second):
                d2 = distance_to_segments(samples[between], means, second)
                summary["between_on_second_nn_only"] = float(((d2 <= BRIDGE_TOLERANCE) & (d > BRIDGE_TOLERANCE)).mean())
            else:
                summary["between_on_second_nn_only"] = 0.0
        else:
            summary["between_on_nn_segments"] = None
            summary["share_off_bridges"] = 0.0
            summary["between_on_second_nn_only"] = None
        summary["nn_spacing"] = spacing
    if mixture.dim == 1:
        summary["gaps"] = gap_shares(samples, mixture, radius_sigma)
    return summary


def gap_shares(samples: np.ndarray, mixture: GaussianMixture, radius_sigma: float) -> list[dict[str, Any]]:
    """1D: for each gap between neighbouring modes (beyond the support radius of both), the share of
    samples in it and that share per unit length."""
    x = np.asarray(samples, dtype=np.float64)[:, 0]
    order = np.argsort(mixture.means.numpy()[:, 0])
    centres = mixture.means.numpy()[order, 0]
    sig = mixture.sigmas.numpy()[order]
    gaps = []
    for i in range(len(centres) - 1):
        lo = centres[i] + radius_sigma * sig[i]
        hi = centres[i + 1] - radius_sigma * sig[i + 1]
        share = float(((x > lo) & (x < hi)).mean()) if hi > lo else 0.0
        gaps.append({
            "between": [float(centres[i]), float(centres[i + 1])],
            "share": share,
            "share_per_unit": share / (hi - lo) if hi > lo else None,
        })
    return gaps


@dataclass(frozen=True)
class ScoredSamples:
    labels: SampleLabels
    variance: np.ndarray  # (N,) trajectory variance of x̂0 over the last K steps
    summary: dict[str, Any]  # ``summarize``


def score_samples(samples: np.ndarray, x0_last: np.ndarray, mixture: GaussianMixture) -> ScoredSamples:
    """Label samples (N, D) against the exact mixture, score them by the variance of x̂0 (N, K, D) and summarize:
    the one scoring of the CLI, the experiment glue and the sample stream."""
    labels = label_samples(samples, mixture)
    variance = trajectory_variance(x0_last)
    return ScoredSamples(labels, variance, summarize(samples, x0_last, mixture, labels=labels, variance=variance))
