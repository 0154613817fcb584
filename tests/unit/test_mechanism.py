"""Mechanism numbers: exact vs exact gives zero error and ratio 1; the midpoint slope matches the
closed form; an oracle wrapped like a network (float32 round trip) is near-zero error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from server.analysis.mechanism import (
    Midpoints,
    curve_line,
    error_map,
    mechanism_report,
    midpoint_slopes,
    network_eps,
    oracle_eps,
    slope_timesteps,
)
from server.diffusion.schedule import NoiseSchedule
from server.gaussian.config import MixtureSpec, NetConfig
from server.gaussian.datasets import NAMED_MIXTURES
from server.gaussian.mixture import GaussianMixture
from server.gaussian.nets import ResidualMLP

SCHEDULE = NoiseSchedule.create("linear", 1000, 0.001, 0.2)


def _mixture(name: str) -> GaussianMixture:
    return GaussianMixture.from_spec(NAMED_MIXTURES[name])


def _float32_oracle(mixture: GaussianMixture, schedule: NoiseSchedule):  # type: ignore[no-untyped-def]
    exact = oracle_eps(mixture, schedule)
    return lambda x, t: exact(x.to(torch.float32).to(torch.float64), t).to(torch.float32).to(torch.float64)


@pytest.mark.parametrize("name", ["1d-123", "grid25"])
def test_oracle_against_itself_is_exact(name: str) -> None:
    mixture = _mixture(name)
    report = mechanism_report(oracle_eps(mixture, SCHEDULE), mixture, SCHEDULE, [0, 10, 200], n_curve=51, n_map=9)
    for entry in report["timesteps"]:
        assert entry["eps_relative_error"] == 0.0
        assert entry["denoiser_exact"] == entry["denoiser_learned"] or entry["t"] == 200
        if mixture.dim == 2:
            assert entry["map"]["abs_eps_error_max"] == 0.0
    for row in report["midpoint_slopes"]:
        assert row["ratio_median"] == pytest.approx(1.0, rel=1e-6)
    summary = report["summary"]
    assert summary["denoiser_slope_ratio_small_t_min"] == pytest.approx(1.0, rel=1e-9)
    assert summary["eps_abs_error_max_large_t"] == 0.0 and summary["eps_abs_error_max_small_t"] == 0.0
    assert report["n_midpoints"] == (2 if mixture.dim == 1 else 40)


def test_float32_wrapped_oracle_is_near_zero() -> None:
    mixture = _mixture("grid25")
    eps = _float32_oracle(mixture, SCHEDULE)
    report = mechanism_report(eps, mixture, SCHEDULE, [5, 50], n_curve=51, n_map=9, slope_ts=[5, 50, 199])
    for entry in report["timesteps"]:
        assert entry["eps_relative_error"] < 1e-5
    for row in report["midpoint_slopes"]:
        assert row["ratio_median"] == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize("t", [0, 3, 10, 50, 150])
def test_midpoint_slope_matches_two_mode_closed_form(t: int) -> None:
    m, sigma = 0.5, 0.05
    mixture = GaussianMixture.from_spec(MixtureSpec(means=[-m, m], sigma=sigma))
    slopes = midpoint_slopes(oracle_eps(mixture, SCHEDULE), mixture, SCHEDULE, t)
    a, s = SCHEDULE.signal_scale(t), SCHEDULE.noise_scale(t)
    v = a**2 * sigma**2 + s**2
    # D*(x) = (a σ² x + s² m tanh(a m x / v)) / v  ⇒  D*'(0) = a (σ² + s² m² / v) / v
    expected = a * (sigma**2 + s**2 * m**2 / v) / v
    assert slopes["exact"][0] == pytest.approx(expected, rel=1e-9)
    # Score slope (a² m² / v − 1) / v, and ε* = −s ∇log p_t.
    assert slopes["eps_exact"][0] == pytest.approx(-s * (a**2 * m**2 / v - 1) / v, rel=1e-9)


def test_exact_midpoint_slope_grows_as_t_shrinks() -> None:
    mixture = _mixture("1d-123")
    exact = [midpoint_slopes(oracle_eps(mixture, SCHEDULE), mixture, SCHEDULE, t)["exact"][0] for t in (50, 10, 1)]
    # Not monotone down to t = 0: there s_t (0.032) falls below σ (0.05), which caps the slope (~ gap²/(4v)).
    assert exact[0] < exact[1] < exact[2] and exact[2] > 20


def test_untrained_network_is_a_smooth_ramp_at_small_t() -> None:
    torch.manual_seed(0)
    mixture = _mixture("1d-123")
    net = ResidualMLP(NetConfig(width=16, blocks=1), 1, torch.Generator().manual_seed(0))
    report = mechanism_report(network_eps(net), mixture, SCHEDULE, [0], n_curve=21, slope_ts=[0, 5, 10])
    assert report["summary"]["denoiser_slope_ratio_small_t_min"] > 5
    assert len(report["timesteps"][0]["denoiser_learned"]) == 21
    assert all(math.isfinite(v) for v in report["timesteps"][0]["eps_learned"])


def test_geometry_helpers() -> None:
    grid = _mixture("grid25")
    points, coord = curve_line(grid, 11)
    assert points.shape == (11, 2) and coord.shape == (11,)
    assert np.allclose(points[:, 1].numpy(), points[0, 1].item())  # the middle row: constant y
    mp = Midpoints.of(grid)
    assert mp.points.shape == (40, 2) and torch.allclose(mp.directions.norm(dim=1), torch.ones(40, dtype=torch.float64))
    m = error_map(oracle_eps(grid, SCHEDULE), grid, SCHEDULE, 3, n=7, n_field=5)
    assert m["abs_eps_error"].shape == (7, 7) and m["field_eps_exact"].shape == (5, 5, 2)
    assert slope_timesteps(1000)[0] == 0 and slope_timesteps(1000)[-1] == 299
    assert slope_timesteps(10) == sorted(set(slope_timesteps(10)))


def test_report_rejects_out_of_range_t() -> None:
    mixture = _mixture("1d-123")
    with pytest.raises(ValueError, match="t: every timestep"):
        mechanism_report(oracle_eps(mixture, SCHEDULE), mixture, SCHEDULE, [1000])


@pytest.mark.slow
def test_trained_network_is_a_ramp_where_the_exact_denoiser_steps() -> None:
    """A short real training run (1d-123, ~10 s): at t ≤ 10 the exact midpoint slope is many times the
    learned one and ε errs by whole noise units; at t ≥ 199 the two ε agree to a fraction of a unit."""
    from server.diffusion.config import TrainConfig
    from server.diffusion.training import train_steps
    from server.gaussian.config import DataConfig, ExperimentConfig
    from server.gaussian.training import TrainingSetup

    torch.set_num_threads(1)
    config = ExperimentConfig(data=DataConfig(dataset="1d-123", n=2000), train=TrainConfig(steps=600, batch=512))
    setup = TrainingSetup.create(config)
    for _ in train_steps(setup, report_every=600):
        pass
    summary = mechanism_report(network_eps(setup.net), setup.mixture, setup.schedule, [0], n_curve=101)["summary"]
    assert summary["denoiser_slope_ratio_small_t_max"] > 5
    assert summary["eps_abs_error_max_small_t"] > 1.0
    assert summary["eps_abs_error_max_large_t"] < summary["eps_abs_error_max_small_t"] / 4
