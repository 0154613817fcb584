"""Detector bench: the windowed sampler equals the plain one, each score orders a hand-built case the
known way, and the report ranks the learned detectors by AUROC."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from server.analysis.detector_bench import (
    bench_report,
    compute_scores,
    downsampled_roc,
    final_posterior_variance,
    lid_score,
    lid_timestep,
    nearest_training_distance,
    oracle_posterior_variance,
    sample_with_window,
)
from server.diffusion.config import SamplerConfig
from server.diffusion.sampling import run_sampler
from server.diffusion.schedule import NoiseSchedule
from server.gaussian.config import MixtureSpec
from server.gaussian.datasets import NAMED_MIXTURES
from server.gaussian.denoisers import OracleDenoiser
from server.gaussian.mixture import GaussianMixture

SCHEDULE = NoiseSchedule.create("linear", 1000, 0.001, 0.2)
SHORT = NoiseSchedule.create("continuous", 100, 0.001, 0.2)
GRID = GaussianMixture.from_spec(NAMED_MIXTURES["grid25"])


def test_windowed_sampler_matches_run_sampler() -> None:
    denoiser = OracleDenoiser(GRID, SHORT)
    config = SamplerConfig(n=50, seed=3, window=4)
    plain = run_sampler(denoiser, SHORT, config)
    windowed = sample_with_window(denoiser, SHORT, config)
    np.testing.assert_array_equal(windowed.samples, plain.samples)
    np.testing.assert_array_equal(windowed.x0_pred_last, plain.x0_pred_last)
    assert windowed.x_t_last.shape == (50, 4, 2) and windowed.timesteps.tolist() == [3, 2, 1, 0]


def test_lid_is_small_on_modes_and_large_between_them() -> None:
    t0 = lid_timestep(GRID, SCHEDULE)
    assert t0 == 1  # s_1 ≈ 0.047 ≥ 2σ ≈ 0.035 > s_0 ≈ 0.032
    assert lid_timestep(GaussianMixture.from_spec(NAMED_MIXTURES["1d-123"]), SCHEDULE) == 6
    means = GRID.means.numpy()
    midpoint = (means[0] + means[1]) / 2
    points = np.stack([means[12], midpoint, means[6]]).astype(np.float32)
    score = lid_score(OracleDenoiser(GRID, SCHEDULE), SCHEDULE, points, t0, draws=32,
                      generator=torch.Generator().manual_seed(0))
    assert score[1] > 20 * max(score[0], score[2])
    with pytest.raises(ValueError, match="even"):
        lid_score(OracleDenoiser(GRID, SCHEDULE), SCHEDULE, points, t0, draws=3, generator=torch.Generator())


def test_lid_uses_antithetic_pairs_from_the_generator() -> None:
    x = GRID.means.numpy()[:3].astype(np.float32)
    denoiser = OracleDenoiser(GRID, SCHEDULE)
    score = lid_score(denoiser, SCHEDULE, x, 4, draws=2, generator=torch.Generator().manual_seed(7))
    eps = torch.randn(3, 1, 2, generator=torch.Generator().manual_seed(7))[:, 0]  # (N, D): the one draw per sample
    a, s = SCHEDULE.signal_scale(4), SCHEDULE.noise_scale(4)
    errors = [(e - denoiser.predict_eps(a * torch.from_numpy(x) + s * e, 4)).square().sum(dim=1) for e in (eps, -eps)]
    np.testing.assert_allclose(score, ((errors[0] + errors[1]) / 2).numpy(), rtol=1e-5)


def test_oracle_posterior_variance_orders_mode_and_midpoint() -> None:
    means = GRID.means.numpy()
    x = np.stack([means[12], (means[12] + means[13]) / 2])[:, None, :].repeat(2, axis=1)  # (2, K=2, D)
    pv = oracle_posterior_variance(GRID, SCHEDULE, x, np.array([1, 0]))
    assert pv[1] > 100 * pv[0]


def test_final_posterior_variance_orders_mode_and_midpoint() -> None:
    means = GRID.means.numpy()
    x = np.stack([means[12], (means[12] + means[13]) / 2])
    pv = final_posterior_variance(GRID, SCHEDULE, x, lid_timestep(GRID, SCHEDULE))
    # Two equally likely components gap apart: tr Cov / D ≤ gap² / 8 (less: m_k shrinks towards x).
    gap = float(np.linalg.norm(means[12] - means[13]))
    assert pv[1] > 100 * pv[0] and 0.5 * gap**2 / 8 < pv[1] <= gap**2 / 8


def test_nearest_training_distance_brute_force() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(50, 2))
    expected = np.sqrt(((x[:, None] - y[None]) ** 2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(nearest_training_distance(x, y, chunk=7), expected, rtol=1e-5)


def test_downsampled_roc_is_monotone_with_endpoints() -> None:
    rng = np.random.default_rng(1)
    positive = rng.random(500) < 0.2
    scores = rng.normal(size=500) + 2 * positive
    roc = downsampled_roc(scores, positive, n_points=11)
    assert roc["fpr"][0] == 0.0 and roc["fpr"][-1] == 1.0 and roc["tpr"][-1] == 1.0
    assert all(b >= a for a, b in zip(roc["tpr"], roc["tpr"][1:], strict=False))


def test_bench_on_a_blurred_model_ranks_detectors() -> None:
    """A 'model' that is the exact denoiser of a blurred mixture (σ × 4) puts samples between the true
    modes; nearest-training-point distance and the oracle must flag them, and the report must rank."""
    truth = GaussianMixture.from_spec(MixtureSpec(means=[0.0, 1.0], sigma=0.05))
    blurred = GaussianMixture.from_spec(MixtureSpec(means=[0.0, 1.0], sigma=0.2))
    train, _ = truth.sample(400, torch.Generator().manual_seed(0))
    result = compute_scores(OracleDenoiser(blurred, SHORT), SHORT, truth, train.numpy(),
                            SamplerConfig(n=600, seed=0, window=5), windows=[2, 3], lid_draws=4)
    report = bench_report(result)
    assert 0.05 < report["share_hallucinated"] < 0.6
    assert set(report["detectors"]) == {"variance", "lid", "oracle", "oracle_final", "nn_distance", "variance_K2",
                                         "variance_K3"}
    assert report["detectors"]["nn_distance"]["auroc"] > 0.9
    assert 0.0 <= report["detectors"]["oracle"]["auroc"] <= 1.0
    ranked = report["ranking_by_auroc"]
    aurocs = [report["detectors"][n]["auroc"] for n in ranked]
    assert aurocs == sorted(aurocs, reverse=True) and report["winner"] == ranked[0]
    assert "oracle" not in ranked and "oracle_final" not in ranked
    assert len(report["detectors"]["lid"]["roc"]["fpr"]) == 101
    with pytest.raises(ValueError, match="window"):
        compute_scores(OracleDenoiser(blurred, SHORT), SHORT, truth, None, SamplerConfig(n=10, window=3), windows=[4])
