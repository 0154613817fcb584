"""Exact labels for generated samples: where each one landed relative to the true mixture.

Label rule (documented in the README): a sample is **in support** when it lies within
``radius_sigma`` (default 6) standard deviations of some mode, measured in that mode's σ. The
chance that a true sample lies beyond 6σ is 2·10⁻⁹ in 1D and e⁻¹⁸ ≈ 1.5·10⁻⁸ in 2D, so real
data is essentially never flagged, even among millions of samples; and the paper's gaps are 10σ
(1D, half-gap) to 20σ (grids, half-gap) wide, so any radius from 4σ to 10σ counts nearly the same
samples. 6σ is also the label of the reference measurements of the official code.

A sample beyond that radius is **between modes** when it projects strictly inside the segment
joining its nearest mode to some other mode (the pair whose segment passes closest, shorter
segments first on ties); otherwise it is **outside** (a tail beyond the outer modes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mixture import GaussianMixture

SUPPORT_RADIUS_SIGMA = 6.0
IN_SUPPORT, BETWEEN_MODES, OUTSIDE = 0, 1, 2
LABEL_NAMES = ("in_support", "between_modes", "outside")


@dataclass(frozen=True)
class SampleLabels:
    nearest_mode: np.ndarray  # (N,) int64, nearest mode in σ units
    distance_sigma: np.ndarray  # (N,) float64, distance to that mode / its σ
    label: np.ndarray  # (N,) int8: IN_SUPPORT, BETWEEN_MODES or OUTSIDE
    between: np.ndarray  # (N, 2) int64, the two modes a between-modes sample lies between; −1 otherwise
    segment_distance: np.ndarray  # (N,) float64, distance to that segment (data units); nan otherwise

    @property
    def hallucinated(self) -> np.ndarray:
        """(N,) bool: anything outside the support (between modes or beyond the outer ones)."""
        return self.label != IN_SUPPORT


def _mixture_arrays(mixture: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    return mixture.means.numpy(), mixture.sigmas.numpy()


def segment_projection(x: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection parameter u (0 at start, 1 at end) and distance of points to the infinite-line foot.

    Shapes broadcast: x (..., D), start (..., D), end (..., D) → u (...), distance (...).
    """
    direction = end - start
    u = ((x - start) * direction).sum(-1) / np.maximum((direction**2).sum(-1), 1e-300)
    foot = start + np.clip(u, 0.0, 1.0)[..., None] * direction
    return u, np.sqrt(((x - foot) ** 2).sum(-1))


def label_samples(
    samples: np.ndarray, mixture: GaussianMixture, radius_sigma: float = SUPPORT_RADIUS_SIGMA
) -> SampleLabels:
    """Label (N, D) samples against the exact mixture."""
    means, sigmas = _mixture_arrays(mixture)
    x = np.asarray(samples, dtype=np.float64)
    N, K = x.shape[0], means.shape[0]
    dist = np.sqrt(((x[:, None, :] - means[None]) ** 2).sum(-1))  # (N, K)
    dist_sigma = dist / sigmas[None]
    nearest = dist_sigma.argmin(axis=1)
    distance_sigma = dist_sigma[np.arange(N), nearest]

    label = np.full(N, IN_SUPPORT, dtype=np.int8)
    between = np.full((N, 2), -1, dtype=np.int64)
    segment_distance = np.full(N, np.nan)
    # ``not <=`` so that a non-finite sample (nan distance) is never counted as in support.
    outside_support = np.flatnonzero(~(distance_sigma <= radius_sigma))
    label[outside_support] = OUTSIDE
    outside_support = outside_support[np.isfinite(x[outside_support]).all(axis=1)]
    if K > 1 and outside_support.size:
        xs = x[outside_support]  # (M, D)
        start = means[nearest[outside_support]]  # (M, D)
        u, d = segment_projection(xs[:, None, :], start[:, None, :], means[None])  # (M, K)
        lengths = np.sqrt(((start[:, None, :] - means[None]) ** 2).sum(-1))  # (M, K)
        inside = (u > 0) & (u < 1) & (lengths > 0)
        # Closest segment first; among equally close ones (collinear modes), the shorter.
        cost = np.where(inside, d + 1e-9 * lengths, np.inf)
        partner = cost.argmin(axis=1)
        rows_m = np.arange(len(xs))
        found = np.isfinite(cost[rows_m, partner])
        # A sample just past the support radius lies near every segment leaving its mode; name a nearest
        # neighbour then, unless a longer segment passes clearly closer (a real diagonal bridge).
        nn_matrix = _nearest_neighbour_matrix(means)  # (K, K) bool
        nn_cost = np.where(nn_matrix[nearest[outside_support]], cost, np.inf)
        nn_partner = nn_cost.argmin(axis=1)
        nn_distance = nn_cost[rows_m, nn_partner]
        spacing = np.where(nn_matrix, lengths_between(means), np.inf).min(axis=1)[nearest[outside_support]]
        prefer_nn = np.isfinite(nn_distance) & (nn_distance <= np.maximum(cost[rows_m, partner], spacing / 4))
        partner = np.where(prefer_nn, nn_partner, partner)
        rows = outside_support[found]
        label[rows] = BETWEEN_MODES
        between[rows, 0] = nearest[rows]
        between[rows, 1] = partner[found]
        segment_distance[rows] = d[np.arange(len(xs)), partner][found]
    return SampleLabels(nearest, distance_sigma, label, between, segment_distance)


def lengths_between(means: np.ndarray) -> np.ndarray:
    """(K, K) distances between modes."""
    return np.sqrt(((means[:, None, :] - means[None]) ** 2).sum(-1))


def _nearest_neighbour_matrix(means: np.ndarray, rtol: float = 1e-3) -> np.ndarray:
    """(K, K) bool: j is among i's nearest modes or i among j's (ties within rtol)."""
    d = lengths_between(means)
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1)
    is_nn = d <= nearest[:, None] * (1 + rtol)
    return is_nn | is_nn.T


def nearest_neighbour_pairs(means: np.ndarray, rtol: float = 1e-3) -> np.ndarray:
    """(P, 2) pairs i < j where j is among i's nearest modes or i among j's (ties within rtol)."""
    is_nn = _nearest_neighbour_matrix(means, rtol)
    i, j = np.nonzero(np.triu(is_nn, k=1))
    return np.stack([i, j], axis=1)


def second_nearest_pairs(means: np.ndarray, rtol: float = 1e-3) -> np.ndarray:
    """(P, 2) pairs i < j at the second-smallest distance of either mode (grid diagonals, diamond same-y pairs)."""
    d = lengths_between(means)
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1, keepdims=True)
    farther = np.where(d > nearest * (1 + rtol), d, np.inf)
    second = farther.min(axis=1, keepdims=True)
    is_second = np.isfinite(second) & (d <= second * (1 + rtol)) & (d > nearest * (1 + rtol))
    is_second = is_second | is_second.T
    i, j = np.nonzero(np.triu(is_second, k=1))
    return np.stack([i, j], axis=1)


def distance_to_segments(samples: np.ndarray, means: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(N,) distance from each sample to the closest of the given mode-to-mode segments."""
    x = np.asarray(samples, dtype=np.float64)[:, None, :]  # (N, 1, D)
    _, d = segment_projection(x, means[pairs[:, 0]][None], means[pairs[:, 1]][None])  # (N, P)
    return d.min(axis=1)
