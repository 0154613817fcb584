"""Trajectory variance, ROC/AUROC and the paper's operating point, against brute force and hand-built cases."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from server.diffusion.detectors import (
    at_threshold,
    auroc,
    auroc_standard_error,
    removed_at_kept,
    roc_curve,
    trajectory_variance,
)
from server.gaussian.ground_truth import label_samples
from server.gaussian.metrics import summarize
from server.gaussian.mixture import GaussianMixture


def _brute_force_auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    wins = 0.0
    pos, neg = scores[positive], scores[~positive]
    for p, n in itertools.product(pos, neg):
        wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_pairwise_count_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=60).astype(float)  # many ties
    positive = rng.random(60) < 0.3
    assert auroc(scores, positive) == pytest.approx(_brute_force_auroc(scores, positive), abs=1e-12)


def test_auroc_edge_cases() -> None:
    assert auroc(np.array([1.0, 2.0, 3.0]), np.array([False, False, True])) == 1.0
    assert auroc(np.array([3.0, 2.0, 1.0]), np.array([False, False, True])) == 0.0
    assert auroc(np.array([1.0, 1.0]), np.array([False, True])) == 0.5
    assert np.isnan(auroc(np.array([1.0, 2.0]), np.array([False, False])))
    assert np.isnan(auroc(np.array([1.0, 2.0]), np.array([True, True])))


@pytest.mark.parametrize("seed", range(3))
def test_roc_is_monotone_and_its_area_is_the_auroc(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = np.round(rng.normal(size=200), 1)  # ties
    positive = rng.random(200) < 0.4
    scores[positive] += 0.8
    roc = roc_curve(scores, positive)
    assert roc.fpr[0] == roc.tpr[0] == 0.0 and roc.fpr[-1] == roc.tpr[-1] == 1.0
    assert np.all(np.diff(roc.fpr) >= 0) and np.all(np.diff(roc.tpr) >= 0)
    assert roc.thresholds[0] == np.inf and np.all(np.diff(roc.thresholds) < 0)
    assert len(roc.thresholds) == len(np.unique(scores)) + 1  # ties share a point
    # Trapezoid area under a tie-aware ROC is exactly the Mann–Whitney AUROC.
    area = float(np.sum(np.diff(roc.fpr) * (roc.tpr[1:] + roc.tpr[:-1]) / 2))
    assert area == pytest.approx(auroc(scores, positive), abs=1e-12)
    # Each point: flag when score >= threshold.
    for thr, fpr, tpr in zip(roc.thresholds[1:], roc.fpr[1:], roc.tpr[1:], strict=True):
        assert fpr == pytest.approx((scores[~positive] >= thr).mean())
        assert tpr == pytest.approx((scores[positive] >= thr).mean())


def test_removed_at_kept_hand_built() -> None:
    # 25 negatives with scores 1 … 25, 4 positives. Keeping 96% of negatives keeps 24: threshold 24.
    negatives = np.arange(1.0, 26.0)
    positives = np.array([0.5, 24.0, 24.5, 100.0])
    scores = np.r_[negatives, positives]
    positive = np.r_[np.zeros(25, bool), np.ones(4, bool)]
    op = removed_at_kept(scores, positive, kept=0.96)
    assert op.threshold == 24.0
    assert op.kept == pytest.approx(24 / 25)
    assert op.removed == pytest.approx(2 / 4)  # 24.5 and 100 are above 24; 24.0 itself is kept
    # Keeping everything: the threshold is the largest negative.
    assert removed_at_kept(scores, positive, kept=1.0).threshold == 25.0
    # 95% of 25 = 23.75 → at least 24 must be kept: the same threshold.
    assert removed_at_kept(scores, positive, kept=0.95).threshold == 24.0
    same = at_threshold(scores, positive, 24.0)
    assert (same.kept, same.removed) == (op.kept, op.removed)


def test_removed_at_kept_degenerate() -> None:
    op = removed_at_kept(np.array([1.0, 2.0]), np.array([True, True]))
    assert op.threshold == np.inf and op.removed == 0.0
    op = removed_at_kept(np.array([1.0, 2.0]), np.array([False, False]))
    assert np.isnan(op.removed) and op.kept == 1.0


def test_trajectory_variance() -> None:
    x0 = np.zeros((3, 4, 2), dtype=np.float32)
    x0[1, :, 0] = [0.0, 1.0, 0.0, 1.0]  # variance 0.25 in one of two coordinates → 0.125
    x0[2, :, :] = np.array([[1.0, 2.0, 3.0, 4.0]]).T  # variance 1.25 in both coordinates
    np.testing.assert_allclose(trajectory_variance(x0), [0.0, 0.125, 1.25])


def test_summarize_grid_case(grid25: GaussianMixture) -> None:
    means = grid25.means.numpy()
    spacing = float(np.linalg.norm(means[1] - means[0]))
    samples = np.r_[means, (means[0] + means[1])[None] / 2, (means[0] + means[6])[None] / 2]  # 25 + bridge + diagonal
    x0 = np.repeat(samples[:, None, :], 10, axis=1)
    x0[25:, ::2] += 0.3  # the two hallucinations wobble
    summary = summarize(samples, x0, grid25)
    assert summary["n_samples"] == 27
    assert summary["share_in_support"] == pytest.approx(25 / 27)
    assert summary["share_between_modes"] == pytest.approx(2 / 27)
    assert summary["between_on_nn_segments"] == pytest.approx(0.5)
    assert summary["share_off_bridges"] == pytest.approx(1 / 27)
    assert summary["nn_spacing"] == pytest.approx(spacing)
    assert summary["variance_auroc"] == 1.0 and summary["removed_at_96_kept"] == 1.0
    json.dumps(summary, allow_nan=False)  # a run with hallucinations gives finite figures only


def test_summarize_without_hallucinations_has_nan_auroc(mix_1d_123: GaussianMixture) -> None:
    samples = mix_1d_123.means.numpy()
    summary = summarize(samples, np.repeat(samples[:, None], 10, axis=1), mix_1d_123)
    assert summary["share_in_support"] == 1.0
    assert np.isnan(summary["variance_auroc"])  # the CLI must turn this into null (tests/unit/test_cli.py)
    assert [g["share"] for g in summary["gaps"]] == [0.0, 0.0]
    assert summary["per_mode_share"] == pytest.approx([1 / 3] * 3, abs=1e-5)
    # Precomputed labels are used as given.
    labels = label_samples(samples + 1.0, mix_1d_123)
    with_labels = summarize(samples, np.repeat(samples[:, None], 10, axis=1), mix_1d_123, labels=labels)
    assert with_labels["share_in_support"] == pytest.approx(2 / 3)


def test_auroc_standard_error_matches_the_closed_form_and_the_spread_over_repeats() -> None:
    # Hanley & McNeil (1982) at A = 0.9 with 50 + 50 samples.
    assert auroc_standard_error(0.9, 50, 50) == pytest.approx(0.03212, abs=1e-4)
    assert np.isnan(auroc_standard_error(0.9, 0, 50)) and np.isnan(auroc_standard_error(float("nan"), 5, 5))
    # Rare positives, as with hallucinations: the spread of the AUROC over independent draws agrees.
    rng = np.random.default_rng(0)
    n_pos, n_neg = 60, 2000
    positive = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    areas = [auroc(np.r_[rng.exponential(4.0, n_pos), rng.exponential(1.0, n_neg)], positive) for _ in range(400)]
    predicted = auroc_standard_error(float(np.mean(areas)), n_pos, n_neg)
    assert np.std(areas) == pytest.approx(predicted, rel=0.2)
