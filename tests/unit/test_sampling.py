"""The reverse process: step formulas, determinism, and the exact-denoiser ("oracle") control run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from server.diffusion.config import SamplerConfig
from server.diffusion.sampling import reverse_process, run_sampler
from server.diffusion.schedule import NoiseSchedule
from server.gaussian.config import NetConfig
from server.gaussian.denoisers import NetworkDenoiser, OracleDenoiser
from server.gaussian.ground_truth import BETWEEN_MODES, IN_SUPPORT, label_samples
from server.gaussian.mixture import GaussianMixture
from server.gaussian.nets import ResidualMLP

from .conftest import generator


class LinearDenoiser:
    """ε̂ = c x: simple enough to re-derive every step by hand."""

    def __init__(self, dim: int, c: float = 0.5):
        self.dim, self.c = dim, c

    def predict_eps(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        return self.c * x_t


def _reference_loop(schedule: NoiseSchedule, n: int, dim: int, seed: int, sampler: str, eta: float) -> np.ndarray:
    """The paper's step formulas, written out independently, on the same noise stream."""
    gen = generator(seed)
    x = torch.randn(n, dim, generator=gen)
    for t in range(schedule.T - 1, -1, -1):
        beta, abar = schedule.betas[t], schedule.alphas_bar[t]
        abar_prev = schedule.alphas_bar[t - 1] if t > 0 else 1.0
        eps = 0.5 * x
        x0 = (x - math.sqrt(1 - abar) * eps) / math.sqrt(abar)
        if sampler == "ddpm":
            mean = (beta * math.sqrt(abar_prev) / (1 - abar)) * x0 + (
                math.sqrt(1 - beta) * (1 - abar_prev) / (1 - abar)
            ) * x
            x = mean + (math.sqrt(beta) * torch.randn(x.shape, generator=gen) if t > 0 else 0.0)
        else:
            c = eta * math.sqrt(beta * (1 - abar_prev) / (1 - abar))
            x = math.sqrt(abar_prev) * x0 + math.sqrt(max(1 - abar_prev - c**2, 0.0)) * eps
            if c > 0:
                x = x + c * torch.randn(x.shape, generator=gen)
    return x.numpy()


@pytest.mark.parametrize(("sampler", "eta"), [("ddpm", 0.0), ("ddim", 0.0), ("ddim", 0.5), ("ddim", 1.0)])
def test_steps_follow_the_paper_formulas(sampler: str, eta: float) -> None:
    schedule = NoiseSchedule.create("linear", 50, 0.001, 0.2)
    steps = list(reverse_process(LinearDenoiser(2), schedule, n=64, generator=generator(3), sampler=sampler, eta=eta))
    expected = _reference_loop(schedule, 64, 2, 3, sampler, eta)
    np.testing.assert_allclose(steps[-1].x.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_generator_yields_every_step_once() -> None:
    schedule = NoiseSchedule.create("linear", 20, 0.001, 0.2)
    steps = list(reverse_process(LinearDenoiser(1), schedule, n=5, generator=generator(0)))
    assert len(steps) == 21
    assert [s.t for s in steps] == [20, *range(19, -1, -1)]
    assert steps[0].x0_pred is None
    assert all(s.x0_pred is not None and s.x0_pred.shape == (5, 1) for s in steps[1:])
    assert all(s.x.shape == (5, 1) and s.x.dtype == torch.float32 for s in steps)


def test_same_seed_same_particles_different_seed_different() -> None:
    schedule = NoiseSchedule.create("linear", 30, 0.001, 0.2)

    def final(seed: int) -> torch.Tensor:
        *_, last = reverse_process(LinearDenoiser(2), schedule, n=100, generator=generator(seed))
        return last.x

    assert torch.equal(final(11), final(11))
    assert not torch.equal(final(11), final(12))


def test_unknown_sampler_rejected() -> None:
    schedule = NoiseSchedule.create("linear", 5, 0.001, 0.2)
    with pytest.raises(ValueError, match="unknown sampler"):
        next(reverse_process(LinearDenoiser(1), schedule, n=1, generator=generator(0), sampler="euler"))


def test_run_sampler_keeps_the_last_window(mix_1d_123: GaussianMixture) -> None:
    schedule = NoiseSchedule.create("linear", 40, 0.001, 0.2)
    config = SamplerConfig(n=30, seed=4, window=7)
    denoiser = OracleDenoiser(mix_1d_123, schedule)
    result = run_sampler(denoiser, schedule, config, record_trajectory=True)
    steps = list(reverse_process(denoiser, schedule, n=30, generator=generator(4)))
    assert result.samples.shape == (30, 1) and result.x0_pred_last.shape == (30, 7, 1)
    assert result.trajectory is not None and result.trajectory.shape == (41, 30, 1)
    assert result.x0_trajectory is not None and result.x0_trajectory.shape == (40, 30, 1)
    np.testing.assert_array_equal(result.samples, steps[-1].x.numpy())
    # Window order: x̂0 at t = K−1 … 0.
    expected = np.stack([s.x0_pred.numpy() for s in steps[-7:] if s.x0_pred is not None], axis=1)
    np.testing.assert_array_equal(result.x0_pred_last, expected)
    np.testing.assert_array_equal(result.x0_trajectory[-7:].transpose(1, 0, 2), expected)
    again = run_sampler(denoiser, schedule, config)
    np.testing.assert_array_equal(again.samples, result.samples)
    assert again.trajectory is None


def test_network_denoiser_matches_the_plain_forward() -> None:
    net = ResidualMLP(NetConfig(width=32, blocks=2), dim=2, generator=generator(0))
    x = torch.randn(50, 2, generator=generator(1))
    for t in (0, 17, 999):
        expected = net(x, torch.full((50,), t))
        torch.testing.assert_close(NetworkDenoiser(net).predict_eps(x, t), expected, rtol=1e-5, atol=1e-6)


def test_chunked_and_threaded_network_denoiser_agree_with_the_training_forward() -> None:
    # 1,300 rows: three 512-row slices (the last one short), split between two threads or not.
    net = ResidualMLP(NetConfig(width=32, blocks=3, tied=False), dim=2, generator=generator(0))
    x = torch.randn(1300, 2, generator=generator(1))
    expected = net(x, torch.full((1300,), 40)).detach()  # grad enabled: the out-of-place residual path
    threads_before = torch.get_num_threads()
    serial = NetworkDenoiser(net).predict_eps(x, 40)
    threaded = NetworkDenoiser(net, threads=2).predict_eps(x, 40)
    torch.testing.assert_close(serial, expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(serial, threaded)  # same slices, so the same bits, whoever computes them
    assert torch.get_num_threads() == threads_before


def _check_oracle_samples(samples: np.ndarray, mixture: GaussianMixture) -> None:
    labels = label_samples(samples, mixture)
    n = len(samples)
    assert np.isfinite(samples).all()
    assert (labels.label == IN_SUPPORT).mean() >= 0.999
    assert (labels.label == BETWEEN_MODES).mean() <= 0.0005
    shares = np.bincount(labels.nearest_mode[labels.label == IN_SUPPORT], minlength=mixture.n_modes) / n
    weights = mixture.weights.numpy()
    sd = np.sqrt(weights * (1 - weights) / n)
    assert np.all(np.abs(shares - weights) < 5 * sd), shares


@pytest.mark.parametrize(("sampler", "eta"), [("ddpm", 0.0), ("ddim", 0.0)])
def test_oracle_reproduces_grid25(
    grid25: GaussianMixture, paper_schedule: NoiseSchedule, sampler: str, eta: float
) -> None:
    result = run_sampler(
        OracleDenoiser(grid25, paper_schedule), paper_schedule, SamplerConfig(sampler=sampler, eta=eta, n=2000, seed=0)
    )
    _check_oracle_samples(result.samples, grid25)
    # The last step returns x̂0 at t = 0, a posterior *mean* given noise s_0 = 0.032 > σ = 0.018 (no noise is
    # added at t = 0, as in the official code), so modes come out narrower than σ: the exact shrinkage alone gives
    # std a σ² / √v ≈ 0.49σ; the coarse fixed-large steps add a little. Far from 0 (no collapse), below σ.
    labels = label_samples(result.samples, grid25)
    spread = float((result.samples - grid25.means.numpy()[labels.nearest_mode]).std())
    sigma = float(grid25.sigmas[0])
    assert 0.45 * sigma < spread < 0.8 * sigma


@pytest.mark.parametrize(("sampler", "eta"), [("ddpm", 0.0), ("ddim", 0.0)])
def test_oracle_reproduces_1d_123(
    mix_1d_123: GaussianMixture, paper_schedule: NoiseSchedule, sampler: str, eta: float
) -> None:
    result = run_sampler(
        OracleDenoiser(mix_1d_123, paper_schedule),
        paper_schedule,
        SamplerConfig(sampler=sampler, eta=eta, n=2000, seed=1),
    )
    _check_oracle_samples(result.samples, mix_1d_123)


def test_oracle_on_uneven_weights(paper_schedule: NoiseSchedule) -> None:
    from server.gaussian.config import MixtureSpec

    mixture = GaussianMixture.from_spec(MixtureSpec(means=(-1.0, 0.5, 2.0), sigma=(0.05, 0.1, 0.03), weights=(1, 3, 6)))
    result = run_sampler(OracleDenoiser(mixture, paper_schedule), paper_schedule, SamplerConfig(n=2000, seed=2))
    _check_oracle_samples(result.samples, mixture)


def test_long_linear_chain_stays_finite(mix_1d_123: GaussianMixture) -> None:
    schedule = NoiseSchedule.create("linear", 2000, 0.001, 0.2)
    result = run_sampler(OracleDenoiser(mix_1d_123, schedule), schedule, SamplerConfig(n=20, seed=0))
    assert np.isfinite(result.samples).all()


def test_samples_do_not_depend_on_the_thread_count() -> None:
    """The server gives a lone sampling computation more threads; shared results must not change with it."""
    net = ResidualMLP(NetConfig(), 2, torch.Generator().manual_seed(0))
    schedule = NoiseSchedule.create("linear", 1000, 0.001, 0.2)
    finals = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            steps = reverse_process(NetworkDenoiser(net), schedule, n=1500, generator=torch.Generator().manual_seed(3))
            finals.append([step.x for _, step in zip(range(60), steps, strict=False)][-1])
    finally:
        torch.set_num_threads(before)
    assert torch.equal(finals[0], finals[1])
