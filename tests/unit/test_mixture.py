"""Exact Gaussian-mixture quantities against finite differences, Monte Carlo and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from server.gaussian.config import MixtureSpec
from server.gaussian.mixture import GaussianMixture, probabilities

from .conftest import generator

# An uneven 2D mixture: different σ_k and weights, so no formula can pass by symmetry alone.
UNEVEN_2D = GaussianMixture.from_spec(
    MixtureSpec(means=((0.0, 0.0), (1.0, 0.2), (0.3, -0.8)), sigma=(0.1, 0.2, 0.05), weights=(1.0, 2.0, 1.5))
)
TWO_MODES_1D = GaussianMixture.from_spec(MixtureSpec(means=((-1.0,), (1.0,)), sigma=0.2))
# (a, s) pairs: near the data, mid-chain, nearly pure noise (a² + s² = 1, as on the schedule).
NOISE_LEVELS = [(math.sqrt(1 - s**2), s) for s in (0.05, 0.3, 0.8, 0.99)]


def _points(mixture: GaussianMixture, n: int, seed: int, spread: float = 1.5) -> torch.Tensor:
    centre = mixture.means.mean(dim=0)
    return centre + spread * torch.randn(n, mixture.dim, generator=generator(seed), dtype=torch.float64)


@pytest.mark.parametrize(("a", "s"), NOISE_LEVELS)
@pytest.mark.parametrize("mixture", [UNEVEN_2D, TWO_MODES_1D], ids=["uneven2d", "two1d"])
def test_score_is_gradient_of_log_density(mixture: GaussianMixture, a: float, s: float) -> None:
    x = _points(mixture, 64, seed=1, spread=0.7)
    h = 1e-6
    fd = torch.stack(
        [
            (mixture.log_density(x + h * e, a, s) - mixture.log_density(x - h * e, a, s)) / (2 * h)
            for e in torch.eye(mixture.dim, dtype=torch.float64)
        ],
        dim=1,
    )
    score = mixture.score(x, a, s)
    assert score.shape == x.shape and score.dtype == torch.float64
    torch.testing.assert_close(score, fd, rtol=1e-5, atol=1e-4)


def test_score_of_data_density_near_a_mode_is_that_gaussians() -> None:
    # At a = 1, s = 0, right next to the σ = 0.05 mode the other modes weigh nothing: ∇ log p = −(x − μ)/σ².
    x = torch.tensor([[0.31, -0.79]], dtype=torch.float64)
    expected = -(x - torch.tensor([0.3, -0.8], dtype=torch.float64)) / 0.05**2
    torch.testing.assert_close(UNEVEN_2D.score(x, 1.0, 0.0), expected)


@pytest.mark.parametrize(("a", "s"), NOISE_LEVELS)
def test_tweedie_and_eps_star(a: float, s: float) -> None:
    m = UNEVEN_2D
    x = _points(m, 200, seed=2)
    score = m.score(x, a, s)
    mean = m.posterior_mean(x, a, s)
    torch.testing.assert_close(mean, (x + s**2 * score) / a, rtol=1e-10, atol=1e-10)
    eps = m.eps_star(x, a, s)
    torch.testing.assert_close(eps, -s * score)
    # The samplers' x̂0 = (x − s ε̂)/a with ε̂ = ε* is the exact denoiser.
    torch.testing.assert_close((x - s * eps) / a, mean, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("a", "s"), [*NOISE_LEVELS, (1.0, 0.0)])
def test_responsibilities_are_a_distribution(a: float, s: float) -> None:
    r = UNEVEN_2D.responsibilities(_points(UNEVEN_2D, 100, seed=3, spread=5.0), a, s)
    assert r.shape == (100, 3)
    assert bool((r >= 0).all())
    torch.testing.assert_close(r.sum(dim=1), torch.ones(100, dtype=torch.float64))


def test_responsibilities_far_from_data_stay_finite() -> None:
    # log-sum-exp: a point 10⁴ away in a tiny-noise regime must not give nan.
    x = torch.tensor([[1e4, -1e4]], dtype=torch.float64)
    r = UNEVEN_2D.responsibilities(x, 1.0, 1e-3)
    assert bool(torch.isfinite(r).all()) and float(r.sum()) == pytest.approx(1.0)
    assert bool(torch.isfinite(UNEVEN_2D.posterior_mean(x, 1.0, 1e-3)).all())


@pytest.mark.parametrize(("a", "s"), [(1.0, 0.0), (0.9, math.sqrt(1 - 0.81))])
def test_log_density_integrates_to_one_in_1d(mix_1d_123: GaussianMixture, a: float, s: float) -> None:
    x = torch.linspace(-2.0, 6.0, 160_001, dtype=torch.float64)[:, None]
    density = mix_1d_123.log_density(x, a, s).exp()
    assert float(torch.trapezoid(density, x[:, 0])) == pytest.approx(1.0, abs=1e-9)


def test_log_density_integrates_to_one_in_2d() -> None:
    g = torch.linspace(-3.0, 3.5, 701, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    a, s = 0.95, math.sqrt(1 - 0.95**2)
    density = UNEVEN_2D.log_density(torch.stack([xx.ravel(), yy.ravel()], dim=1), a, s).exp().reshape(701, 701)
    total = torch.trapezoid(torch.trapezoid(density, g, dim=1), g)
    assert float(total) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(("a", "s"), NOISE_LEVELS)
def test_two_mode_closed_form(a: float, s: float) -> None:
    """Modes ±m, equal weights, common σ."""
    m, sigma = 1.0, 0.2
    v = a**2 * sigma**2 + s**2
    x = torch.linspace(-2.0, 2.0, 41, dtype=torch.float64)[:, None]
    tanh = torch.tanh(a * m * x / v)
    torch.testing.assert_close(TWO_MODES_1D.score(x, a, s), (a * m * tanh - x) / v)
    torch.testing.assert_close(TWO_MODES_1D.posterior_mean(x, a, s), (a * sigma**2 * x + s**2 * m * tanh) / v)
    # Slope of the score at the midpoint: (a² m² / v − 1) / v.
    h = 1e-6
    zero = torch.tensor([[h], [-h]], dtype=torch.float64)
    slope = float((TWO_MODES_1D.score(zero, a, s)[0] - TWO_MODES_1D.score(zero, a, s)[1]) / (2 * h))
    assert slope == pytest.approx((a**2 * m**2 / v - 1) / v, rel=1e-6)


def test_posterior_variance_closed_form_two_modes() -> None:
    # Var[x0 | x] = within + between: σ² s²/v + m_k spread; at the midpoint m_± = ±s² m / v, r = ½ each.
    a, s, m, sigma = 0.8, 0.6, 1.0, 0.2
    v = a**2 * sigma**2 + s**2
    var = TWO_MODES_1D.posterior_variance(torch.zeros(1, 1, dtype=torch.float64), a, s)
    assert float(var[0]) == pytest.approx(sigma**2 * s**2 / v + (s**2 * m / v) ** 2, rel=1e-12)


def _importance_moments(
    mixture: GaussianMixture, x: torch.Tensor, a: float, s: float, n: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """E[x0 | x_t = x] and tr Cov / D by self-normalised importance sampling with the prior as proposal."""
    x0, _ = mixture.sample(n, generator(seed))
    log_w = -((x[None, :] - a * x0) ** 2).sum(dim=1) / (2 * s**2)
    w = torch.softmax(log_w, dim=0)
    mean = (w[:, None] * x0).sum(dim=0)
    var = (w * ((x0 - mean) ** 2).sum(dim=1)).sum() / mixture.dim
    ess = float(1.0 / (w**2).sum())
    return mean, var, ess


@pytest.mark.parametrize("point", [(0.5, 0.1), (0.15, -0.4), (0.6, -0.3)])
def test_posterior_moments_match_importance_sampling(point: tuple[float, float]) -> None:
    a, s = math.sqrt(1 - 0.3**2), 0.3
    x = torch.tensor(point, dtype=torch.float64)
    mean, var, ess = _importance_moments(UNEVEN_2D, x, a, s, 400_000, seed=4)
    assert ess > 5_000  # enough weight for the tolerances below
    exact_mean = UNEVEN_2D.posterior_mean(x[None], a, s)[0]
    exact_var = float(UNEVEN_2D.posterior_variance(x[None], a, s)[0])
    tol = 5 * math.sqrt(exact_var / ess)  # ≈ 5 standard errors
    torch.testing.assert_close(mean, exact_mean, rtol=0, atol=tol)
    assert var.item() == pytest.approx(exact_var, rel=0.05)


def test_posterior_mean_matches_forward_noising_in_a_bin(mix_1d_123: GaussianMixture) -> None:
    """Noise real mixture samples with q(x_t | x_0), keep those whose x_t lands in a narrow bin."""
    a, s = math.sqrt(0.744), math.sqrt(1 - 0.744)  # ᾱ_49 of the paper's schedule
    gen = generator(5)
    x0, _ = mix_1d_123.sample(2_000_000, gen)
    xt = a * x0 + s * torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    for centre in (1.5 * a, 2.0 * a, 2.7 * a):
        in_bin = (xt[:, 0] - centre).abs() < 0.005
        assert int(in_bin.sum()) > 3_000
        exact = mix_1d_123.posterior_mean(torch.tensor([[centre]], dtype=torch.float64), a, s)[0, 0]
        exact_var = mix_1d_123.posterior_variance(torch.tensor([[centre]], dtype=torch.float64), a, s)[0]
        mc_mean = x0[in_bin, 0].mean()
        mc_var = x0[in_bin, 0].var()
        assert abs(float(mc_mean - exact)) < 5 * math.sqrt(float(exact_var) / int(in_bin.sum())) + 2e-3
        assert float(mc_var) == pytest.approx(float(exact_var), rel=0.08)


def test_sample_is_balanced_and_has_the_right_moments() -> None:
    m = UNEVEN_2D  # weights 1 : 2 : 1.5
    counts = m.component_counts(9_000)
    np.testing.assert_array_equal(counts, [2_000, 4_000, 3_000])
    x, comp = m.sample(9_000, generator(6))
    assert x.shape == (9_000, 2) and x.dtype == torch.float64
    np.testing.assert_array_equal(np.bincount(comp.numpy()), counts)
    for k in range(3):
        pts = x[comp == k]
        torch.testing.assert_close(pts.mean(dim=0), m.means[k], rtol=0, atol=5 * float(m.sigmas[k]) / 40)
        assert float(pts.std(dim=0).mean()) == pytest.approx(float(m.sigmas[k]), rel=0.05)


@pytest.mark.parametrize("n", [1, 7, 10, 999, 10_001])
def test_component_counts_sum_to_n_and_differ_from_quota_by_less_than_one(n: int) -> None:
    counts = UNEVEN_2D.component_counts(n)
    assert counts.sum() == n
    quota = UNEVEN_2D.weights.numpy() * n
    assert np.all(np.abs(counts - quota) < 1)


def test_from_spec_normalises_weights_and_broadcasts_sigma() -> None:
    m = GaussianMixture.from_spec(MixtureSpec(means=(1.0, 2.0, 4.0), sigma=0.1, weights=(2.0, 1.0, 1.0)))
    assert (m.n_modes, m.dim) == (3, 1)
    torch.testing.assert_close(m.weights, torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64))
    torch.testing.assert_close(m.sigmas, torch.full((3,), 0.1, dtype=torch.float64))


@pytest.mark.parametrize("weights", [(1.0, 1.0, 2.0), (3.0, 0.1, 7.25, 1e-3), (1e-300, 2e-300), (5.0,)])
def test_probabilities_are_the_plain_normalisation_bit_for_bit(weights: tuple[float, ...]) -> None:
    w = torch.tensor(weights, dtype=torch.float64)
    assert torch.equal(probabilities(weights), w / w.sum())


def test_probabilities_of_huge_weights_do_not_overflow() -> None:
    """[1e308] * 3 sums to inf: plain normalisation gives NaN or zeros; scaled first, it is uniform."""
    assert torch.equal(probabilities((1e308,) * 3), torch.full((3,), 1 / 3, dtype=torch.float64))
    mixed = probabilities((1.5e308, 1.5e308, 0.75e308))
    assert torch.isfinite(mixed).all() and torch.allclose(mixed, torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64))
