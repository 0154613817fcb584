"""Hallucination detectors and how to score them against the exact labels.

The paper's detector (official ``train_toy_filter.py``): run the reverse chain, keep x̂0 at the last
K steps (t = K−1 … 0; K = 10 of T = 1000), take the population variance over those K values per
coordinate and average over coordinates. High variance ⇒ likely hallucination.

Evaluation: ROC/AUROC against the ground-truth label, and the paper's operating point: the share of
hallucinated samples removed when the threshold keeps 96% of in-support samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAPER_KEPT = 0.96


def trajectory_variance(x0_pred_last: np.ndarray) -> np.ndarray:
    """(N, K, D) x̂0 over the last K steps → (N,) variance over K (ddof 0), averaged over D."""
    return np.asarray(x0_pred_last, dtype=np.float64).var(axis=1).mean(axis=1)


@dataclass(frozen=True)
class RocCurve:
    fpr: np.ndarray  # (M,) share of negatives flagged at each threshold
    tpr: np.ndarray  # (M,) share of positives flagged
    thresholds: np.ndarray  # (M,) flag when score >= threshold; starts at +inf


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> RocCurve:
    """ROC over every distinct score (ties share a point)."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(-scores, kind="mergesort")
    s, p = scores[order], positive[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tp, fp = np.cumsum(p)[last_of_tie], np.cumsum(~p)[last_of_tie]
    n_pos, n_neg = max(int(positive.sum()), 1), max(int((~positive).sum()), 1)
    return RocCurve(
        fpr=np.r_[0.0, fp / n_neg], tpr=np.r_[0.0, tp / n_pos], thresholds=np.r_[np.inf, s[last_of_tie]]
    )


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counted half; nan if one class."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    # Average ranks over ties (Mann–Whitney U).
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], scores.size]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auroc_standard_error(area: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an AUROC measured on n_pos positives and n_neg negatives (Hanley & McNeil 1982).

    Hallucinations are rare, so n_pos is small and dominates: with ~60 between-mode samples among 10,000
    an AUROC near 0.95 is known to about ±0.02. Closed form (no resampling, so no randomness)."""
    if n_pos == 0 or n_neg == 0 or not np.isfinite(area):
        return float("nan")
    q1, q2 = area / (2 - area), 2 * area**2 / (1 + area)
    variance = (area * (1 - area) + (n_pos - 1) * (q1 - area**2) + (n_neg - 1) * (q2 - area**2)) / (n_pos * n_neg)
    return float(np.sqrt(max(variance, 0.0)))


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float  # keep samples with score <= threshold
    kept: float  # share of in-support (negative) samples kept
    removed: float  # share of hallucinated (positive) samples removed


def removed_at_kept(scores: np.ndarray, positive: np.ndarray, kept: float = PAPER_KEPT) -> OperatingPoint:
    """Lowest threshold that keeps at least ``kept`` of the negatives, and what it removes."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    negatives = np.sort(scores[~positive])
    if negatives.size == 0:
        return OperatingPoint(float("inf"), float("nan"), 0.0)
    threshold = float(negatives[int(np.ceil(kept * negatives.size)) - 1])
    removed = float((scores[positive] > threshold).mean()) if positive.any() else float("nan")
    return OperatingPoint(threshold, float((negatives <= threshold).mean()), removed)


def at_threshold(scores: np.ndarray, positive: np.ndarray, threshold: float) -> OperatingPoint:
    """What a given threshold keeps and removes."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    kept = float((scores[~positive] <= threshold).mean()) if (~positive).any() else float("nan")
    removed = float((scores[positive] > threshold).mean()) if positive.any() else float("nan")
    return OperatingPoint(threshold, kept, removed)
