"""Four hallucination detectors scored on the same samples against the exact labels (issue #5).

For every generated sample x̂ (the chain's final x_0):

* ``variance`` — the paper's trajectory variance: Var over the last K reverse steps of x̂0^(t), mean
  over coordinates (``detectors.trajectory_variance``; K = ``window``, several K from one run).
* ``lid`` — the denoising-error / local-intrinsic-dimension score:
      LID(x̂) = E_ε ‖ε − ε_θ(a_{t0} x̂ + s_{t0} ε, t0)‖²,
  Monte Carlo over k draws in antithetic pairs (ε, −ε) from an explicit generator. "Is x̂ a fixed
  point of the model's denoiser at noise level t0?" — a sample between modes is not.
  t0 rule (``lid_timestep``): the first t with noise std s_t ≥ min(2σ, gap/4) — noise twice the
  mode width, well below the spacing (grid25: t0 = 1, s ≈ 0.047; 1d-123: t0 = 6, s ≈ 0.10). Below σ
  the noise cannot move a point off its mode; near gap/2 it moves in-support samples across to the
  neighbour, so every sample looks ambiguous. Measured with ``lid_t0_scan`` on the default-recipe
  models (5,000 samples; few hallucinations, so coarse): grid25 AUROC 0.999 for t0 = 0 … 4 (s ≤ 0.084),
  0.979 at t0 = 7, 0.865 at t0 = 11, 0.67 at t0 = 20; 1d-123 1.000 for t0 ≤ 4, 0.998 at t0 = 11, 0.88 at
  t0 = 20. The rule sits inside both plateaus; the earlier rule √(σ · gap/2) sat on 1d-123's edge.
* ``oracle`` — the ceiling: the exact posterior variance tr Cov[x_0 | x_t] / D of the mixture, at the
  sample's own x_t (the chain's input) at each of the last K steps, averaged over those K steps. It
  is what the variance detector estimates with the model's x̂0 in place of the exact posterior.
* ``oracle_final`` — the ``lid`` score of the final sample computed with the exact ε* of the mixture
  instead of the network (same t0, same draws): how far the EXACT denoiser at noise level t0 moves
  x̂ — the ceiling of ``lid``. (Measured alternative, dropped: the exact posterior variance at a_{t0}·x̂
  scored AUROC 0.69 on grid25, as at t0 the exact posterior is already certain for samples just
  beyond 6σ; ``final_posterior_variance`` keeps it available.)
* ``nn_distance`` — distance from x̂ to the nearest training point (a memorisation/novelty score; it
  needs the training set, which a deployed model does not carry).

Each is scored by ROC (downsampled), AUROC and the paper's operating point: the share of
hallucinated samples removed when the threshold keeps 96% of in-support samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..diffusion.cancel import CancelToken, check
from ..diffusion.config import SamplerConfig
from ..diffusion.detectors import PAPER_KEPT, auroc, removed_at_kept, roc_curve, trajectory_variance
from ..diffusion.sampling import Denoiser, reverse_process, windowed_x0
from ..diffusion.schedule import NoiseSchedule
from ..gaussian.config import NetConfig
from ..gaussian.costs import DISTANCE_SECONDS, Estimate, network_rows_seconds, oracle_rows_seconds
from ..gaussian.denoisers import OracleDenoiser, with_cancel
from ..gaussian.ground_truth import SampleLabels, label_samples, nearest_neighbour_pairs
from ..gaussian.mixture import GaussianMixture

DETECTORS = ("variance", "lid", "oracle", "oracle_final", "nn_distance")
LEARNED_DETECTORS = ("variance", "lid", "nn_distance")  # the oracles need the true mixture
ROC_POINTS = 101


@dataclass(frozen=True)
class WindowedSamples:
    samples: np.ndarray  # (N, D) float32, final x_0
    x0_pred_last: np.ndarray  # (N, K, D) x̂0 predicted at t = K−1 … 0
    x_t_last: np.ndarray  # (N, K, D) the chain's input x_t at t = K−1 … 0
    timesteps: np.ndarray  # (K,) K−1 … 0


def sample_with_window(
    denoiser: Denoiser, schedule: NoiseSchedule, sampler: SamplerConfig, *, device: str = "cpu"
) -> WindowedSamples:
    """Run the sampler (same seeded noise as ``run_sampler``) keeping x_t and x̂0 over the last K steps."""
    window = min(sampler.window, schedule.T)
    generator = torch.Generator(device).manual_seed(sampler.seed)
    x_in: list[torch.Tensor] = []
    x0: list[torch.Tensor] = []
    ts: list[int] = []
    previous = torch.empty(0)
    for step in reverse_process(denoiser, schedule, n=sampler.n, generator=generator, sampler=sampler.sampler,
                                eta=sampler.eta):
        kept = windowed_x0(step, window)
        if kept is not None:
            x_in.append(previous)
            x0.append(kept)
            ts.append(step.t)
        previous = step.x
    return WindowedSamples(
        samples=previous.cpu().numpy(),
        x0_pred_last=torch.stack(x0, dim=1).cpu().numpy(),
        x_t_last=torch.stack(x_in, dim=1).cpu().numpy(),
        timesteps=np.array(ts),
    )


def bench_cost(net: NetConfig | None, dim: int, n_modes: int, T: int, sampler: SamplerConfig, *, lid_draws: int,
               n_train: int | None) -> Estimate:
    """Estimated seconds of ``compute_scores`` for a network (``net``; None: the exact denoiser): n particles
    over T steps, n × lid_draws rows through the model and as many through the exact ε*, and n × n_train
    distances for the nearest-neighbour detector (``n_train`` None: no training set)."""
    n = sampler.n
    model_rows = n * T + n * lid_draws

    def rows(count: float) -> float:
        return network_rows_seconds(net, dim, count) if net is not None else oracle_rows_seconds(n_modes, count)

    seconds = rows(model_rows) + oracle_rows_seconds(n_modes, n * lid_draws) + n * (n_train or 0) * DISTANCE_SECONDS
    return Estimate(seconds, 0.0, f"{n:,} particles × {T:,} steps")


# ----------------------------------------------------------------------------- scores


def lid_timestep(mixture: GaussianMixture, schedule: NoiseSchedule) -> int:
    """First t with s_t ≥ min(2σ_min, gap/4) (gap: nearest-neighbour spacing); see the module docstring."""
    means = mixture.means.numpy()
    sigma = float(mixture.sigmas.min())
    target = 2 * sigma
    if mixture.n_modes > 1:
        pairs = nearest_neighbour_pairs(means)
        gap = float(np.linalg.norm(means[pairs[:, 0]] - means[pairs[:, 1]], axis=1).min())
        target = min(target, gap / 4)
    noise = np.sqrt(1.0 - schedule.alphas_bar)  # (T,)
    above = np.flatnonzero(noise >= target)
    return int(above[0]) if above.size else schedule.T - 1


def lid_score(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    x0: np.ndarray,
    t0: int,
    *,
    draws: int,
    generator: torch.Generator,
    chunk: int = 65_536,
) -> np.ndarray:
    """(N,) E_ε ‖ε − ε_θ(a x0 + s ε, t0)‖² over ``draws`` (even) antithetic draws; summed over D."""
    if draws < 2 or draws % 2:
        raise ValueError(f"draws: need an even number >= 2 (antithetic pairs), got {draws}")
    x = torch.as_tensor(np.asarray(x0, dtype=np.float32))  # (N, D)
    N, D = x.shape
    a, s = schedule.signal_scale(t0), schedule.noise_scale(t0)
    half = torch.randn(N, draws // 2, D, generator=generator)  # (N, k/2, D)
    eps = torch.cat([half, -half], dim=1).reshape(N * draws, D)  # (N·k, D): pairs (ε, −ε)
    x_t = a * x.repeat_interleave(draws, dim=0) + s * eps  # (N·k, D)
    errors = torch.empty(N * draws)
    for i in range(0, N * draws, chunk):
        pred = denoiser.predict_eps(x_t[i : i + chunk], t0).cpu().to(torch.float32)
        errors[i : i + chunk] = (eps[i : i + chunk] - pred).square().sum(dim=1)
    return errors.reshape(N, draws).mean(dim=1).double().numpy()


def oracle_posterior_variance(
    mixture: GaussianMixture, schedule: NoiseSchedule, x_t_last: np.ndarray, timesteps: np.ndarray
) -> np.ndarray:
    """(N,) mean over the window of tr Cov[x_0 | x_t] / D at each sample's own x_t."""
    total = np.zeros(x_t_last.shape[0])
    for j, t in enumerate(timesteps):
        x = torch.as_tensor(x_t_last[:, j], dtype=torch.float64)
        pv = mixture.posterior_variance(x, schedule.signal_scale(int(t)), schedule.noise_scale(int(t)))
        total += pv.numpy()
    return total / len(timesteps)


def final_posterior_variance(mixture: GaussianMixture, schedule: NoiseSchedule, samples: np.ndarray,
                             t0: int) -> np.ndarray:
    """(N,) tr Cov[x_0 | x_t = a_{t0} x̂] / D at each final sample x̂."""
    a, s = schedule.signal_scale(t0), schedule.noise_scale(t0)
    x = torch.as_tensor(np.asarray(samples, dtype=np.float64))
    return mixture.posterior_variance(a * x, a, s).numpy()


def nearest_training_distance(samples: np.ndarray, train: np.ndarray, chunk: int = 2048,
                              cancel: CancelToken | None = None) -> np.ndarray:
    """(N,) Euclidean distance to the nearest of the (M, D) training points."""
    x = torch.as_tensor(np.asarray(samples, dtype=np.float32))
    y = torch.as_tensor(np.asarray(train, dtype=np.float32))
    out = torch.empty(x.shape[0])
    # ``chunk`` × M distances per call: 2,048 × 200,000 is about a second, so a cancel is checked per slice of
    # at most 50M distances.
    chunk = max(1, min(chunk, 50_000_000 // max(1, y.shape[0])))
    for i in range(0, x.shape[0], chunk):
        check(cancel)
        # The direct form: the matmul shortcut loses the small distances that matter here in float32.
        d = torch.cdist(x[i : i + chunk], y, compute_mode="donot_use_mm_for_euclid_dist")
        out[i : i + chunk] = d.min(dim=1).values
    return out.double().numpy()


# ----------------------------------------------------------------------------- scoring


def downsampled_roc(scores: np.ndarray, positive: np.ndarray, n_points: int = ROC_POINTS) -> dict[str, list[float]]:
    """The ROC's TPR at ``n_points`` evenly spaced FPR values (step interpolation: the best TPR reached
    at or below each FPR), for plotting."""
    roc = roc_curve(scores, positive)
    fpr_grid = np.linspace(0.0, 1.0, n_points)
    idx = np.searchsorted(roc.fpr, fpr_grid, side="right") - 1
    return {"fpr": np.round(fpr_grid, 4).tolist(), "tpr": np.round(roc.tpr[idx], 5).tolist()}


def score_detector(scores: np.ndarray, positive: np.ndarray) -> dict[str, Any]:
    """AUROC, removed at 96% kept, class medians and the downsampled ROC of one score (high = flag)."""
    finite = np.where(np.isfinite(scores), scores, np.inf)  # a non-finite score flags the sample
    op = removed_at_kept(finite, positive, PAPER_KEPT)
    return {
        "auroc": auroc(finite, positive),
        "removed_at_96_kept": op.removed,
        "threshold_at_96_kept": op.threshold,
        "median_in_support": float(np.median(finite[~positive])) if (~positive).any() else None,
        "median_hallucinated": float(np.median(finite[positive])) if positive.any() else None,
        "roc": downsampled_roc(finite, positive),
    }


@dataclass(frozen=True)
class DetectorScores:
    samples: WindowedSamples
    labels: SampleLabels
    scores: dict[str, np.ndarray]  # name → (N,)
    lid_t0: int


def compute_scores(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    mixture: GaussianMixture,
    training_points: np.ndarray | None,
    sampler: SamplerConfig,
    *,
    windows: Sequence[int] = (),
    lid_t0: int | None = None,
    lid_draws: int = 16,
    lid_seed: int = 0,
    device: str = "cpu",
    cancel: CancelToken | None = None,
) -> DetectorScores:
    """Sample once, then every detector's score per sample. ``windows``: extra K values (each ≤ the
    sampler's window) for ``variance_K<k>`` columns. ``cancel`` reaches every slice of network work."""
    if cancel is not None:
        denoiser = with_cancel(denoiser, cancel)
    ws = sample_with_window(denoiser, schedule, sampler, device=device)
    labels = label_samples(ws.samples, mixture)
    t0 = lid_timestep(mixture, schedule) if lid_t0 is None else lid_t0
    if not 0 <= t0 < schedule.T:
        raise ValueError(f"lid t0: must lie in 0 … {schedule.T - 1}, got {t0}")
    def lid(model: Denoiser) -> np.ndarray:  # the same draws for the network and the exact ε*
        generator = torch.Generator().manual_seed(lid_seed)
        return lid_score(model, schedule, ws.samples, t0, draws=lid_draws, generator=generator)

    scores = {
        "variance": trajectory_variance(ws.x0_pred_last),
        "lid": lid(denoiser),
        "oracle": oracle_posterior_variance(mixture, schedule, ws.x_t_last, ws.timesteps),
        "oracle_final": lid(OracleDenoiser(mixture, schedule, cancel=cancel)),
    }
    if training_points is not None:
        scores["nn_distance"] = nearest_training_distance(ws.samples, training_points, cancel=cancel)
    K = ws.x0_pred_last.shape[1]
    for k in windows:
        if not 2 <= k <= K:
            raise ValueError(f"window: each K must lie in 2 … {K} (the sampler's window), got {k}")
        scores[f"variance_K{k}"] = trajectory_variance(ws.x0_pred_last[:, K - k :])  # t = k−1 … 0
    return DetectorScores(ws, labels, scores, t0)


def lid_t0_scan(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    samples: np.ndarray,
    positive: np.ndarray,
    t0s: Sequence[int],
    *,
    draws: int = 8,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """AUROC and removed-at-96%-kept of the LID score at each t0 (to check the t0 rule by measurement)."""
    out = []
    for t0 in t0s:
        score = lid_score(denoiser, schedule, samples, t0, draws=draws, generator=torch.Generator().manual_seed(seed))
        op = removed_at_kept(score, positive, PAPER_KEPT)
        out.append({"t0": int(t0), "noise_std": schedule.noise_scale(int(t0)), "auroc": auroc(score, positive),
                    "removed_at_96_kept": op.removed})
    return out


def bench_report(result: DetectorScores) -> dict[str, Any]:
    """One JSON-ready dict: counts, each detector's figures, and which learned detector wins."""
    positive = result.labels.hallucinated
    detectors = {name: score_detector(score, positive) for name, score in result.scores.items()}
    ranked = [n for n in LEARNED_DETECTORS if n in detectors and not math.isnan(detectors[n]["auroc"])]
    ranked.sort(key=lambda n: (detectors[n]["auroc"], detectors[n]["removed_at_96_kept"]), reverse=True)
    return {
        "n_samples": int(positive.size),
        "n_hallucinated": int(positive.sum()),
        "share_hallucinated": float(positive.mean()),
        "window": int(result.samples.x0_pred_last.shape[1]),
        "lid_t0": result.lid_t0,
        "detectors": detectors,
        "ranking_by_auroc": ranked,
        "winner": ranked[0] if ranked else None,
    }
