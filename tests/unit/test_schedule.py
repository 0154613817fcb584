"""Golden coefficients of the forward process (the official code's linear β 0.001 → 0.2 over T = 1000; t runs
0 … T − 1, ᾱ_t = ∏_{s ≤ t} (1 − β_s)) and the continuous-time schedule."""

from __future__ import annotations

import numpy as np
import pytest

from server.diffusion.schedule import NoiseSchedule, continuous_alphas_bar

# ᾱ_t of the paper's schedule (linear β 0.001 → 0.2, T = 1000), computed by hand apart from this code, to the digits
# written.
PAPER_ALPHAS_BAR = {0: "0.999", 9: "0.981", 19: "0.944", 49: "0.744", 99: "0.335", 149: "0.091", 199: "0.0147"}


@pytest.mark.parametrize(("t", "quoted"), sorted(PAPER_ALPHAS_BAR.items()))
def test_paper_alphas_bar(paper_schedule: NoiseSchedule, t: int, quoted: str) -> None:
    decimals = len(quoted.split(".")[1])
    assert f"{paper_schedule.alphas_bar[t]:.{decimals}f}" == quoted


def test_first_and_last_beta(paper_schedule: NoiseSchedule) -> None:
    assert paper_schedule.betas[0] == pytest.approx(0.001, abs=1e-15)
    assert paper_schedule.betas[-1] == pytest.approx(0.2, abs=1e-15)
    assert paper_schedule.T == 1000
    # Signal is gone at the end of the chain (√ᾱ_299 ≈ 0.009).
    assert np.sqrt(paper_schedule.alphas_bar[299]) == pytest.approx(0.009, abs=1e-3)
    assert paper_schedule.alphas_bar[-1] < 1e-40


@pytest.mark.parametrize("kind", ["linear", "continuous"])
@pytest.mark.parametrize("T", [1, 10, 100, 250, 1000, 4000])
def test_alphas_bar_strictly_decreasing_in_unit_interval(kind: str, T: int) -> None:
    s = NoiseSchedule.create(kind, T, 0.001, 0.2)  # type: ignore[arg-type]
    assert s.alphas_bar.shape == s.betas.shape == s.alphas_bar_prev.shape == (T,)
    assert np.all(np.diff(s.alphas_bar) < 0)
    assert np.all((s.alphas_bar > 0) & (s.alphas_bar < 1))
    assert np.all((s.betas > 0) & (s.betas <= 1))  # T = 1 continuous: one step from ᾱ = 1 to ≈ 0
    assert s.alphas_bar_prev[0] == 1.0
    np.testing.assert_array_equal(s.alphas_bar_prev[1:], s.alphas_bar[:-1])
    # ᾱ_t = ∏ (1 − β_s) holds for both kinds.
    np.testing.assert_allclose(np.cumprod(1.0 - s.betas), s.alphas_bar, rtol=1e-10, atol=1e-30)


def test_posterior_at_t0_returns_x0_exactly(paper_schedule: NoiseSchedule) -> None:
    c1, c2 = paper_schedule.posterior_mean_coefs(0)
    # β_0 / (1 − ᾱ_0) is 1 up to float64 rounding, and exactly 1 at the samplers' float32 precision.
    assert c1 == pytest.approx(1.0, abs=1e-14) and c2 == 0.0
    assert np.float32(c1) == np.float32(1.0)
    assert paper_schedule.posterior_variance(0) == 0.0


@pytest.mark.parametrize("t", [1, 9, 487, 999])
def test_posterior_coefficients_match_definition(paper_schedule: NoiseSchedule, t: int) -> None:
    s = paper_schedule
    beta, abar, abar_prev = s.betas[t], s.alphas_bar[t], s.alphas_bar[t - 1]
    c1, c2 = s.posterior_mean_coefs(t)
    assert c1 == pytest.approx(beta * np.sqrt(abar_prev) / (1 - abar), rel=1e-12)
    assert c2 == pytest.approx(np.sqrt(1 - beta) * (1 - abar_prev) / (1 - abar), rel=1e-12)
    assert s.posterior_variance(t) == pytest.approx(beta * (1 - abar_prev) / (1 - abar), rel=1e-12)
    assert 0 < s.posterior_variance(t) <= beta
    # The posterior mean is unbiased: with x_t = a x0 (no noise), c1 x0 + c2 a x0 = a_{t−1} x0.
    assert c1 + c2 * s.signal_scale(t) == pytest.approx(np.sqrt(abar_prev), rel=1e-12)


def test_signal_and_noise_scales(paper_schedule: NoiseSchedule) -> None:
    for t in (0, 49, 999):
        a, s = paper_schedule.signal_scale(t), paper_schedule.noise_scale(t)
        assert a**2 + s**2 == pytest.approx(1.0, abs=1e-15)
    assert paper_schedule.noise_scale(9) == pytest.approx(0.137, abs=1e-3)
    assert paper_schedule.noise_scale(0) == pytest.approx(np.sqrt(0.001), rel=1e-12)


def test_continuous_equals_linear_at_reference_T(paper_schedule: NoiseSchedule) -> None:
    cont = NoiseSchedule.create("continuous", 1000, 0.001, 0.2)
    np.testing.assert_allclose(cont.alphas_bar, paper_schedule.alphas_bar, rtol=1e-12)
    np.testing.assert_allclose(cont.betas, paper_schedule.betas, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("T", [100, 250])
def test_continuous_keeps_the_reference_curve(paper_schedule: NoiseSchedule, T: int) -> None:
    cont = NoiseSchedule.create("continuous", T, 0.001, 0.2)
    step = 1000 // T
    # Step t sits at τ = (t + 1) / T, i.e. on the reference knot (t + 1)·step − 1.
    np.testing.assert_allclose(cont.alphas_bar, paper_schedule.alphas_bar[step - 1 :: step], rtol=1e-12)
    # ... while the linear kind at the same T is a different (much gentler) curve.
    linear = NoiseSchedule.create("linear", T, 0.001, 0.2)
    assert linear.alphas_bar[-1] > 1e-12 > cont.alphas_bar[-1]


def test_continuous_interpolates_log_alphas_bar_between_knots() -> None:
    # T = 400: τ = (t + 1) / 400 falls halfway between reference knots for odd t + 1.
    abar = continuous_alphas_bar(0.001, 0.2, 400)
    ref = NoiseSchedule.create("linear", 1000, 0.001, 0.2).alphas_bar
    # τ = 1/400 = 2.5/1000: between knots 2 and 3 (ᾱ at indices 1 and 2), log-linear halfway.
    assert np.log(abar[0]) == pytest.approx(0.5 * (np.log(ref[1]) + np.log(ref[2])), rel=1e-12)


@pytest.mark.parametrize(
    ("kind", "T", "start", "end"),
    [("linear", 0, 0.001, 0.2), ("linear", 10, 0.3, 0.2), ("linear", 10, 0.0, 0.2), ("linear", 10, 0.1, 1.0),
     ("cosine", 10, 0.001, 0.2)],
)
def test_bad_schedule_rejected(kind: str, T: int, start: float, end: float) -> None:
    with pytest.raises(ValueError):
        NoiseSchedule.create(kind, T, start, end)  # type: ignore[arg-type]
