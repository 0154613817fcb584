"""The statistics the shapes page shows at once: a bundled sample set against the training set it was learned from.

Every image falls in one category: a valid image in its combination of shapes (``figures.COMBINATIONS``), any other
in its label (duplicate, malformed, empty). Both sets are counted by the same rule (``count_shapes``), so the training
set's shares come from its pixels, not from the generator's metadata. Shares carry 95% Wilson intervals
(``figures.share``). The detector is the trajectory variance over the sample set's window; its AUROC is measured on
the set itself, duplicates vs every other image and duplicates vs valid images only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from server.diffusion.detectors import roc_curve

from .counting import DUPLICATE, LABELS, VALID, count_shapes
from .detection import detector_figures
from .figures import COMBINATIONS, combination_index, share
from .generator import ShapesDataset
from .geometry import SHAPES
from .sample_set import SampleSet

CATEGORIES = (*COMBINATIONS, *LABELS[1:])  # index = category code


def categories(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, 3, 4) per-column kind counts and (N,) labels → (N,) int64 index into CATEGORIES."""
    own = np.arange(len(SHAPES))
    present = counts[:, own, own] >= 1  # (N, 3): each column holds its own shape (exactly once when valid)
    return np.where(labels == VALID, combination_index(present), len(COMBINATIONS) - 1 + labels)


def category_shares(codes: np.ndarray) -> dict[str, dict[str, object]]:
    n = int(codes.size)
    return {name: share(int((codes == i).sum()), n) for i, name in enumerate(CATEGORIES)}


def label_shares(labels: np.ndarray) -> dict[str, dict[str, object]]:
    n = int(labels.size)
    return {name: share(int((labels == i).sum()), n) for i, name in enumerate(LABELS)}


def detector_summary(scores: np.ndarray, positive: np.ndarray) -> dict[str, object] | None:
    """AUROC (with its interval) and the paper's operating point; None when one class is absent."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    return {**detector_figures(scores, positive).as_dict(roc=False), "positives": n_pos, "negatives": n_neg}


@dataclass(frozen=True)
class SetStatistics:
    figures: dict[str, Any]  # JSON-ready (may hold NaN: the caller maps it to null)
    variance: np.ndarray  # (N,) float32 trajectory variance of each generated image
    labels: np.ndarray  # (N,) uint8 index into LABELS
    categories: np.ndarray  # (N,) uint8 index into CATEGORIES
    roc: dict[str, np.ndarray]  # fpr, tpr, thresholds (flag when variance ≥ threshold), duplicates vs the rest


def set_statistics(samples: SampleSet, train: ShapesDataset, *, window: int) -> SetStatistics:
    train_counts = count_shapes(train.images, train.resolution)
    train_codes = categories(train_counts.counts, train_counts.labels)
    codes = categories(samples.counts, samples.labels)
    positive = samples.labels == DUPLICATE
    clean = positive | (samples.labels == VALID)
    curve = roc_curve(samples.variance, positive)
    figures = {
        "n": {"training": len(train), "generated": len(samples)},
        "labels": list(LABELS),
        "categories": list(CATEGORIES),
        "label_shares": {"training": label_shares(train_counts.labels), "generated": label_shares(samples.labels)},
        "category_shares": {"training": category_shares(train_codes), "generated": category_shares(codes)},
        "window": window,
        "detector": "trajectory_variance",
        "auroc": {"vs_rest": detector_summary(samples.variance, positive),
                  "vs_valid": detector_summary(samples.variance[clean], positive[clean])},
    }
    has_both = bool(positive.any() and (~positive).any())  # a one-class ROC is meaningless: sent empty
    roc = {name: getattr(curve, name) if has_both else np.zeros(0) for name in ("fpr", "tpr", "thresholds")}
    return SetStatistics(figures=figures, variance=samples.variance.astype(np.float32),
                         labels=samples.labels.astype(np.uint8), categories=codes.astype(np.uint8), roc=roc)
