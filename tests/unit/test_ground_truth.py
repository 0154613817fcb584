"""Exact labels (in support / between modes / outside) and nearest-neighbour segments."""

from __future__ import annotations

import numpy as np
import pytest

from server.gaussian.config import MixtureSpec
from server.gaussian.datasets import GRID_SCALE
from server.gaussian.ground_truth import (
    BETWEEN_MODES,
    IN_SUPPORT,
    OUTSIDE,
    distance_to_segments,
    label_samples,
    nearest_neighbour_pairs,
    segment_projection,
)
from server.gaussian.mixture import GaussianMixture

SPACING = 2 / GRID_SCALE  # grid25 nearest spacing, 0.707


def _grid_point(i: float, j: float) -> list[float]:
    return [i * SPACING, j * SPACING]


def test_points_at_modes_are_in_support(grid25: GaussianMixture) -> None:
    means = grid25.means.numpy()
    jitter = 5.9 * grid25.sigmas.numpy()[:, None] * np.array([[0.6, 0.8]])  # 5.9σ away, just inside
    labels = label_samples(means + jitter, grid25)
    np.testing.assert_array_equal(labels.label, IN_SUPPORT)
    np.testing.assert_array_equal(labels.nearest_mode, np.arange(25))
    np.testing.assert_allclose(labels.distance_sigma, 5.9)
    np.testing.assert_array_equal(labels.between, -1)
    assert np.isnan(labels.segment_distance).all()
    assert not labels.hallucinated.any()


def test_radius_is_a_parameter(mix_1d_123: GaussianMixture) -> None:
    x = np.array([[1.0 + 5 * 0.05]])  # 5σ from mode 1
    assert label_samples(x, mix_1d_123).label[0] == IN_SUPPORT
    assert label_samples(x, mix_1d_123, radius_sigma=4.0).label[0] == BETWEEN_MODES


def test_1d_midpoints_tails_and_pairs(mix_1d_123: GaussianMixture) -> None:
    x = np.array([[1.5], [2.5], [1.35], [0.5], [3.7], [2.0]])
    labels = label_samples(x, mix_1d_123)
    np.testing.assert_array_equal(labels.label, [BETWEEN_MODES, BETWEEN_MODES, BETWEEN_MODES, OUTSIDE, OUTSIDE, 0])
    # Collinear modes: the shorter segment wins (1–2, not 1–3).
    assert sorted(labels.between[0]) == [0, 1]
    assert sorted(labels.between[1]) == [1, 2]
    assert sorted(labels.between[2]) == [0, 1]
    np.testing.assert_array_equal(labels.between[3:], -1)
    np.testing.assert_allclose(labels.segment_distance[:3], 0.0, atol=1e-12)
    np.testing.assert_allclose(labels.distance_sigma[:5], [10, 10, 7, 10, 14], rtol=1e-9)
    np.testing.assert_array_equal(labels.nearest_mode[3:5], [0, 2])


def test_grid_segment_midpoint_beyond_and_cell_interior(grid25: GaussianMixture) -> None:
    x = np.array([
        _grid_point(0.5, 0.0),  # midpoint of a grid edge
        _grid_point(0.5, 0.1),  # near that edge
        _grid_point(2.6, 0.0),  # beyond the right column
        _grid_point(2.5, 2.5),  # beyond a corner
        _grid_point(0.45, 0.45),  # cell interior, near the diagonal
    ])
    labels = label_samples(x, grid25)
    np.testing.assert_array_equal(labels.label, [BETWEEN_MODES, BETWEEN_MODES, OUTSIDE, OUTSIDE, BETWEEN_MODES])
    means = grid25.means.numpy()
    a, b = labels.between[0]
    assert np.linalg.norm(means[a] - means[b]) == pytest.approx(SPACING)
    assert labels.segment_distance[0] == pytest.approx(0.0, abs=1e-12)
    assert labels.segment_distance[1] == pytest.approx(0.1 * SPACING)
    # The cell interior lies on no grid line: it belongs to a diagonal, far from every nearest-neighbour segment.
    a, b = labels.between[4]
    assert np.linalg.norm(means[a] - means[b]) == pytest.approx(SPACING * np.sqrt(2))
    pairs = nearest_neighbour_pairs(means)
    assert distance_to_segments(x[[4]], means, pairs)[0] == pytest.approx(0.45 * SPACING)
    assert distance_to_segments(x[[0]], means, pairs)[0] == pytest.approx(0.0, abs=1e-12)


def test_non_finite_samples_are_not_in_support(grid25: GaussianMixture) -> None:
    x = np.array([[np.nan, 0.0], [np.inf, 0.0], [0.0, 0.0]])
    labels = label_samples(x, grid25)
    np.testing.assert_array_equal(labels.label, [OUTSIDE, OUTSIDE, IN_SUPPORT])


def test_single_mode_has_no_between(mix_1d_123: GaussianMixture) -> None:
    one = GaussianMixture.from_spec(MixtureSpec(means=((0.0, 0.0),), sigma=0.1))
    labels = label_samples(np.array([[0.0, 0.7], [0.0, 0.05]]), one)
    np.testing.assert_array_equal(labels.label, [OUTSIDE, IN_SUPPORT])


def test_nearest_neighbour_pairs_grid25(grid25: GaussianMixture) -> None:
    means = grid25.means.numpy()
    pairs = nearest_neighbour_pairs(means)
    assert pairs.shape == (40, 2)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert len({tuple(p) for p in pairs}) == 40
    delta = means[pairs[:, 1]] - means[pairs[:, 0]]
    np.testing.assert_allclose(np.linalg.norm(delta, axis=1), SPACING)
    # Axis-aligned: exactly one coordinate changes.
    assert ((np.abs(delta) < 1e-12).sum(axis=1) == 1).all()


def test_nearest_neighbour_pairs_diamond25(diamond25: GaussianMixture) -> None:
    means = diamond25.means.numpy()
    pairs = nearest_neighbour_pairs(means)
    assert pairs.shape == (40, 2)
    delta = means[pairs[:, 1]] - means[pairs[:, 0]]
    np.testing.assert_allclose(np.abs(delta[:, 0]), np.abs(delta[:, 1]), atol=1e-12)  # ±45° only
    # No pair of modes that share a y value (the x-axis neighbours are second-nearest).
    assert not np.isclose(delta[:, 1], 0.0, atol=1e-9).any()


def test_nearest_neighbour_pairs_1d(mix_1d_123: GaussianMixture) -> None:
    np.testing.assert_array_equal(nearest_neighbour_pairs(mix_1d_123.means.numpy()), [[0, 1], [1, 2]])
    # 1, 2, 4, 5: 2–4 is nobody's nearest neighbour.
    np.testing.assert_array_equal(nearest_neighbour_pairs(np.array([[1.0], [2.0], [4.0], [5.0]])), [[0, 1], [2, 3]])


def test_segment_projection() -> None:
    u, d = segment_projection(np.array([[0.5, 1.0], [2.0, 0.0], [-1.0, 1.0]]), np.zeros(2), np.array([1.0, 0.0]))
    np.testing.assert_allclose(u, [0.5, 2.0, -1.0])
    np.testing.assert_allclose(d, [1.0, 1.0, np.sqrt(2)])  # distance to the clipped segment


def test_sample_just_past_the_support_names_a_nearest_neighbour(grid25: GaussianMixture) -> None:
    """7σ from the centre mode at 60°: close to every segment leaving it, so its pair is a grid neighbour,
    not whichever long segment happens to pass closest."""
    sigma = float(grid25.sigmas[0])
    angle = np.deg2rad(60)
    x = np.array([[7 * sigma * np.cos(angle), 7 * sigma * np.sin(angle)]])
    labels = label_samples(x, grid25)
    assert labels.label[0] == BETWEEN_MODES
    means = grid25.means.numpy()
    a, b = labels.between[0]
    assert np.linalg.norm(means[a] - means[b]) == pytest.approx(SPACING)
