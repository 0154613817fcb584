"""Why mode interpolation happens: the learned denoiser against the exact one (paper §3.4).

At timestep t (x_t = a_t x_0 + s_t ε) the exact denoiser E[x_0 | x_t] of a mixture switches from one
mode to the next within a band of width ≈ v / (a_t · gap) around each inter-mode midpoint
(v = a_t² σ² + s_t²), so at small t it is a near-step; its slope there is

    ∂/∂x_t E[x_0 | x_t] · u  =  (a_t / s_t²) uᵀ Cov[x_0 | x_t] u

which grows like gap² / s_t² as t → 0. A smooth network gives a ramp with a far smaller slope, so an
x_t near the midpoint is denoised to a point between the modes. At large t both curves are smooth
and agree. This module turns that picture into numbers:

* ``curves``: E[x_0|x_t] and ε along a line through neighbouring modes, learned vs exact;
* ``midpoint_slopes``: the slope of both denoisers (and of ε) at every nearest-neighbour midpoint;
* ``error_map``: |ε_θ − ε*| on a 2D grid, and a coarse grid of both ε fields.

Coordinates: curves and maps are drawn in data units u, evaluated at x_t = a_t · u (the noised
position of a data point at u), so the modes stay put as t grows. Slopes are taken with respect to
x_t at the noised midpoint a_t · (μ_i + μ_j) / 2, by autograd (float64 for the exact mixture).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..diffusion.cancel import CancelToken, check
from ..diffusion.schedule import NoiseSchedule
from ..gaussian.config import NetConfig
from ..gaussian.costs import GRAD_FACTOR, Estimate, network_rows_seconds, oracle_rows_seconds
from ..gaussian.ground_truth import nearest_neighbour_pairs
from ..gaussian.mixture import GaussianMixture
from ..gaussian.nets import ResidualMLP

# x_t (N, D) float64 and integer t → ε (N, D); must be differentiable in x_t.
EpsFunction = Callable[[torch.Tensor, int], torch.Tensor]

# "small t" and "large t" in units of the chain, so that T ≠ 1000 compares like with like: t ≤ 10 and
# t ≥ 200 of the paper's T = 1000 (step t sits at τ = (t + 1) / T).
# Beyond τ = 0.3 (√ᾱ < 0.01 on the paper's schedule) every noised midpoint a_t·m is ≈ 0: nothing to compare.
SMALL_TAU = 0.011
LARGE_TAU = 0.2
MAX_TAU = 0.3
MAX_MIDPOINT_PAIRS = 64 * 3  # nearest-neighbour pairs of at most 64 modes: a bound, for the cost estimate
SLOPE_TAUS = (0.001, 0.002, 0.003, 0.005, 0.008, 0.011, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def network_eps(net: ResidualMLP) -> EpsFunction:
    """ε_θ of a trained network, differentiable in x_t (float32 inside, float64 out)."""
    net = net.eval()

    def eps(x: torch.Tensor, t: int) -> torch.Tensor:
        device = next(net.parameters()).device
        time_features = net.time_features(torch.tensor([t], device=device))  # (1, W)
        return net.forward_with_time(x.to(device, torch.float32), time_features).to(torch.float64).cpu()

    return eps


def oracle_eps(mixture: GaussianMixture, schedule: NoiseSchedule) -> EpsFunction:
    """The exact ε*(x, t) of the mixture (what a perfect network would output)."""

    def eps(x: torch.Tensor, t: int) -> torch.Tensor:
        return mixture.eps_star(x, schedule.signal_scale(t), schedule.noise_scale(t))

    return eps


def learned_denoiser(eps: EpsFunction, schedule: NoiseSchedule, x: torch.Tensor, t: int) -> torch.Tensor:
    """x̂0 = (x_t − s_t ε(x_t, t)) / a_t, (N, D)."""
    return (x - schedule.noise_scale(t) * eps(x, t)) / schedule.signal_scale(t)


def _directional_slope(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """uᵀ (∂fn/∂x) u per row, (N,), for a row-wise map fn: (N, D) → (N, D) and unit directions u (N, D)."""
    with torch.enable_grad():
        x = x.detach().to(torch.float64).requires_grad_(True)
        y = fn(x)
        (grad,) = torch.autograd.grad((y * u).sum(), x)  # rows: (∂fn/∂x)ᵀ u
    return (grad * u).sum(dim=1).detach()


@dataclass(frozen=True)
class Midpoints:
    pairs: np.ndarray  # (P, 2) nearest-neighbour mode pairs i < j
    points: torch.Tensor  # (P, D) float64 midpoints (μ_i + μ_j) / 2, data units
    directions: torch.Tensor  # (P, D) float64 unit vectors μ_i → μ_j

    @classmethod
    def of(cls, mixture: GaussianMixture) -> Midpoints:
        means = mixture.means
        pairs = nearest_neighbour_pairs(means.numpy())
        start, end = means[pairs[:, 0]], means[pairs[:, 1]]
        direction = end - start
        return cls(pairs, (start + end) / 2, direction / direction.norm(dim=1, keepdim=True))


def midpoint_slopes(
    eps: EpsFunction, mixture: GaussianMixture, schedule: NoiseSchedule, t: int, midpoints: Midpoints | None = None
) -> dict[str, np.ndarray]:
    """Slopes along each inter-mode direction at the noised midpoint a_t·m, (P,) each:
    ``exact``/``learned`` of E[x_0|x_t] and ``eps_exact``/``eps_learned`` of ε."""
    mp = midpoints or Midpoints.of(mixture)
    a, s = schedule.signal_scale(t), schedule.noise_scale(t)
    x = a * mp.points  # (P, D)
    u = mp.directions
    return {
        "exact": _directional_slope(lambda z: mixture.posterior_mean(z, a, s), x, u).numpy(),
        "learned": _directional_slope(lambda z: learned_denoiser(eps, schedule, z, t), x, u).numpy(),
        "eps_exact": _directional_slope(lambda z: mixture.eps_star(z, a, s), x, u).numpy(),
        "eps_learned": _directional_slope(lambda z: eps(z, t), x, u).numpy(),
    }


def curve_line(mixture: GaussianMixture, n_points: int = 401, pad: float = 0.5) -> tuple[torch.Tensor, np.ndarray]:
    """A line through neighbouring modes: (G, D) points in data units and the (G,) coordinate along it.

    1D: the x axis over [min μ − pad·gap, max μ + pad·gap]. 2D: the line through the mode nearest the
    mixture's centre and its nearest neighbour, spanning every mode that lies on it (for grid25: the
    middle row), padded the same way.
    """
    means = mixture.means  # (K, D)
    if mixture.n_modes == 1:
        origin, direction, gap = means[0], torch.eye(mixture.dim, dtype=torch.float64)[0], 1.0
        lo, hi = 0.0, 0.0
    else:
        centre = means.mean(dim=0)
        i = int((means - centre).norm(dim=1).argmin())
        dist = (means - means[i]).norm(dim=1)
        dist[i] = float("inf")
        j = int(dist.argmin())
        gap = float(dist[j])
        origin = means[i]
        direction = (means[j] - means[i]) / gap
        along = (means - origin) @ direction  # (K,)
        off = ((means - origin) - along[:, None] * direction).norm(dim=1)
        on_line = along[off <= 1e-6 * max(gap, 1e-12)]
        lo, hi = float(on_line.min()), float(on_line.max())
    coord = np.linspace(lo - pad * gap, hi + pad * gap, n_points)
    points = origin + torch.from_numpy(coord)[:, None] * direction  # (G, D)
    return points, coord - (lo + hi) / 2 if mixture.dim == 2 else coord


def curves(
    eps: EpsFunction, mixture: GaussianMixture, schedule: NoiseSchedule, t: int, points: torch.Tensor
) -> dict[str, np.ndarray]:
    """Along (G, D) data-unit points evaluated at x_t = a_t·points: denoisers and ε, projected on the line
    direction in 2D (1D: the values themselves). Returns (G,) arrays."""
    a, s = schedule.signal_scale(t), schedule.noise_scale(t)
    direction = points[-1] - points[0]
    direction = direction / direction.norm()
    x = a * points
    with torch.no_grad():
        exact_d = mixture.posterior_mean(x, a, s)
        learned_d = learned_denoiser(eps, schedule, x, t)
        exact_e = mixture.eps_star(x, a, s)
        learned_e = eps(x, t)
    return {
        "denoiser_exact": (exact_d @ direction).numpy(),
        "denoiser_learned": (learned_d @ direction).numpy(),
        "eps_exact": (exact_e @ direction).numpy(),
        "eps_learned": (learned_e @ direction).numpy(),
        "eps_error_rms": np.sqrt(((learned_e - exact_e) ** 2).sum(dim=1).mean().item()),
        "eps_rms": np.sqrt((exact_e**2).sum(dim=1).mean().item()),
    }


def grid_box(mixture: GaussianMixture, n: int, pad: float = 0.5) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """2D: axes (n,), (n,) over the modes' bounding box ± pad·(nearest spacing), and the (n·n, 2) points
    in row-major order (y rows, x columns)."""
    means = mixture.means.numpy()
    pairs = nearest_neighbour_pairs(means) if mixture.n_modes > 1 else np.zeros((0, 2), dtype=np.int64)
    gap = float(np.linalg.norm(means[pairs[:, 0]] - means[pairs[:, 1]], axis=1).min()) if len(pairs) else 1.0
    lo, hi = means.min(axis=0) - pad * gap, means.max(axis=0) + pad * gap
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys)  # (n, n): rows are y
    return xs, ys, torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))


def error_map(
    eps: EpsFunction, mixture: GaussianMixture, schedule: NoiseSchedule, t: int, *, n: int = 41, n_field: int = 13
) -> dict[str, Any]:
    """2D: |ε_θ − ε*| on an n×n grid (heatmap, rows = y), and both ε fields on a coarse grid."""
    a, s = schedule.signal_scale(t), schedule.noise_scale(t)
    xs, ys, points = grid_box(mixture, n)
    fx, fy, field_points = grid_box(mixture, n_field)
    with torch.no_grad():
        error = (eps(a * points, t) - mixture.eps_star(a * points, a, s)).norm(dim=1).reshape(n, n)  # (n, n)
        learned = eps(a * field_points, t).reshape(n_field, n_field, 2)
        exact = mixture.eps_star(a * field_points, a, s).reshape(n_field, n_field, 2)
    return {"x": xs, "y": ys, "abs_eps_error": error.numpy(), "field_x": fx, "field_y": fy,
            "field_eps_exact": exact.numpy(), "field_eps_learned": learned.numpy()}


def slope_timesteps(T: int) -> list[int]:
    """The default timesteps of the slope-over-t curve: SLOPE_TAUS of the chain, deduplicated."""
    return sorted({min(T - 1, max(0, round(tau * T) - 1)) for tau in SLOPE_TAUS})


def is_small_t(t: int, T: int) -> bool:
    return (t + 1) / T <= SMALL_TAU + 1e-12


def is_large_t(t: int, T: int) -> bool:
    return (t + 1) / T >= LARGE_TAU - 1e-12


def _r(x: np.ndarray | float, digits: int = 6) -> Any:
    return np.round(np.asarray(x, dtype=np.float64), digits).tolist()


def mechanism_report(
    eps: EpsFunction,
    mixture: GaussianMixture,
    schedule: NoiseSchedule,
    timesteps: Sequence[int],
    *,
    slope_ts: Sequence[int] | None = None,
    n_curve: int = 201,
    n_map: int = 41,
    n_field: int = 13,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Everything ``modelab mechanism`` prints: curves (and 2D maps) at ``timesteps``, slopes over t, and
    the reproduction numbers (the README's claim 6). ``cancel`` is checked before each timestep's work."""
    T = schedule.T
    for t in timesteps:
        if not 0 <= t < T:
            raise ValueError(f"t: every timestep must lie in 0 … {T - 1}, got {t}")
    points, coord = curve_line(mixture, n_curve)
    at_t = []
    for t in timesteps:
        check(cancel)
        c = curves(eps, mixture, schedule, t, points)
        entry: dict[str, Any] = {
            "t": t,
            "a_t": schedule.signal_scale(t),
            "s_t": schedule.noise_scale(t),
            "denoiser_exact": _r(c["denoiser_exact"]),
            "denoiser_learned": _r(c["denoiser_learned"]),
            "eps_exact": _r(c["eps_exact"]),
            "eps_learned": _r(c["eps_learned"]),
            "eps_relative_error": float(c["eps_error_rms"] / max(float(c["eps_rms"]), 1e-300)),
            "eps_abs_error_max": float(np.max(np.abs(c["eps_learned"] - c["eps_exact"]))),
        }
        if mixture.dim == 2:
            m = error_map(eps, mixture, schedule, t, n=n_map, n_field=n_field)
            entry["map"] = {k: _r(v, 5) for k, v in m.items()}
            entry["map"]["abs_eps_error_max"] = float(np.max(m["abs_eps_error"]))
        at_t.append(entry)

    midpoints = Midpoints.of(mixture)
    slopes = []
    for t in slope_ts if slope_ts is not None else slope_timesteps(T):
        check(cancel)
        sl = midpoint_slopes(eps, mixture, schedule, t, midpoints)
        ratio = sl["exact"] / np.where(np.abs(sl["learned"]) > 1e-12, sl["learned"], np.nan)
        line = curves(eps, mixture, schedule, t, points)
        slopes.append({
            "t": t,
            "exact_median": float(np.median(sl["exact"])),
            "learned_median": float(np.median(sl["learned"])),
            "ratio_median": float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else None,
            "ratio_max": float(np.nanmax(ratio)) if np.isfinite(ratio).any() else None,
            "eps_exact_median": float(np.median(sl["eps_exact"])),
            "eps_learned_median": float(np.median(sl["eps_learned"])),
            "eps_abs_error_max": float(np.max(np.abs(line["eps_learned"] - line["eps_exact"]))),
        })
    return {
        "T": T,
        "dim": mixture.dim,
        "n_midpoints": len(midpoints.pairs),
        "curve_coordinate": _r(coord),
        "timesteps": at_t,
        "midpoint_slopes": slopes,
        "summary": slope_summary(slopes, T),
    }


def mechanism_cost(net: NetConfig | None, dim: int, n_modes: int, T: int, *, slopes: bool, n_curve: int,
                   n_map: int, n_field: int = 13) -> Estimate:
    """Estimated seconds of ``mechanism_report`` at one t: the curve (learned and exact), in 2D the error map
    and the two fields, and with ``slopes`` the curve again and the midpoint slopes (autograd) at every
    default slope timestep. Small by construction (the query caps bound it); checked like every view."""
    n_slope_ts = len(slope_timesteps(T)) if slopes else 0
    rows = n_curve * (1 + n_slope_ts) + (n_map * n_map + n_field * n_field if dim == 2 else 0)
    grad_rows = GRAD_FACTOR * n_slope_ts * 2 * MAX_MIDPOINT_PAIRS
    learned = rows + grad_rows
    seconds = ((network_rows_seconds(net, dim, learned) if net is not None else 0.0)
               + oracle_rows_seconds(n_modes, rows + grad_rows))
    return Estimate(seconds, 0.0, f"{rows:,} points and {n_slope_ts} slope timesteps")


def slope_summary(slopes: Sequence[dict[str, Any]], T: int) -> dict[str, Any]:
    """The §9 item 6 numbers, from the per-t rows of ``mechanism_report``.

    Small t (τ ≤ 0.011: t ≤ 10 of 1000): exact/learned slope of E[x_0|x_t] at the midpoints (median over
    midpoints), smallest and largest over those t — how many times steeper the exact near-step is than
    the learned ramp. Large t (0.2 ≤ τ ≤ 0.3: t = 199 … 299 of 1000): the largest |ε_θ − ε*| along the
    curve, in units of the noise std, next to the same figure at small t — both curves agree there.
    At large t the denoiser slope is no yardstick: x̂0 = (x_t − s_t ε_θ)/a_t multiplies any ε error by
    s_t/a_t (≈ 8 at t = 199, ≈ 110 at t = 299), and every noised midpoint a_t·m sits within a_t·gap of 0.
    """
    small = [s for s in slopes if is_small_t(s["t"], T)]
    large = [s for s in slopes if is_large_t(s["t"], T) and (s["t"] + 1) / T <= MAX_TAU + 1e-12]
    ratios = [s["ratio_median"] for s in small if s["ratio_median"] is not None]
    return {
        "small_t": [s["t"] for s in small],
        "large_t": [s["t"] for s in large],
        "denoiser_slope_ratio_small_t_min": min(ratios) if ratios else None,
        "denoiser_slope_ratio_small_t_max": max(ratios) if ratios else None,
        "eps_abs_error_max_small_t": max(s["eps_abs_error_max"] for s in small) if small else None,
        "eps_abs_error_max_large_t": max(s["eps_abs_error_max"] for s in large) if large else None,
    }
