"""The Simple Shapes figures: label shares with 95% intervals, presence per column, combinations, detectors."""

from __future__ import annotations

import math

import numpy as np

from .counting import DUPLICATE, LABELS, MALFORMED_KIND, ShapeCounts
from .geometry import SHAPES

Z95 = 1.959964


def wilson_interval(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a share k / n (sensible at k = 0, unlike the normal one)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p, z2 = k / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def share(k: int, n: int) -> dict[str, object]:
    low, high = wilson_interval(k, n)
    return {"count": k, "share": round(k / n, 4) if n else None, "ci95": [round(low, 4), round(high, 4)]}


def label_figures(counts: ShapeCounts) -> dict[str, object]:
    """Per label: count, share and interval; per column: the share holding its own shape, and holding two or more."""
    n = counts.labels.size
    own: np.ndarray = counts.counts[:, np.arange(len(SHAPES)), np.arange(len(SHAPES))]  # (N, 3) own-kind per column
    same_kind_twice = np.asarray((counts.counts[:, :, :MALFORMED_KIND] >= 2).any(axis=2))  # (N, 3)
    return {
        "n": n,
        "labels": {name: share(int((counts.labels == i).sum()), n) for i, name in enumerate(LABELS)},
        "presence": {name: round(float((own[:, c] >= 1).mean()), 4) for c, name in enumerate(SHAPES)},
        "duplicate_by_column": {name: round(float(same_kind_twice[:, c].mean()), 4) for c, name in enumerate(SHAPES)},
    }


# The non-empty combinations of shapes, keyed like "triangle+square"; position = bit code − 1, where bit c of the
# code says that SHAPES[c] is present.
COMBINATIONS = tuple("+".join(name for c, name in enumerate(SHAPES) if (code >> c) & 1)
                     for code in range(1, 2 ** len(SHAPES)))


def combination_index(present: np.ndarray) -> np.ndarray:
    """(N, 3) bool presence → (N,) int64 index into COMBINATIONS; −1 where nothing is present."""
    return (np.asarray(present, dtype=np.int64) << np.arange(len(SHAPES))).sum(axis=1) - 1


def combination_shares(present: np.ndarray) -> dict[str, float]:
    """(N, 3) bool presence → share of each non-empty combination, keyed like "triangle+square"."""
    index = combination_index(present)
    return {key: round(float((index == i).mean()), 4) for i, key in enumerate(COMBINATIONS)}


def is_duplicate(counts: ShapeCounts) -> np.ndarray:
    return np.asarray(counts.labels == DUPLICATE)
