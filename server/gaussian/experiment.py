"""Glue shared by the CLI, the API and the benchmarks: sample a denoiser and label the result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..diffusion.config import SamplerConfig
from ..diffusion.sampling import Denoiser, SamplerResult, run_sampler
from ..diffusion.schedule import NoiseSchedule
from .config import ExperimentConfig
from .datasets import mixture_spec
from .ground_truth import SampleLabels
from .metrics import score_samples
from .mixture import GaussianMixture


@dataclass(frozen=True)
class ExperimentRun:
    """The exact pieces of an experiment that need no training: its schedule and true mixture."""

    config: ExperimentConfig
    schedule: NoiseSchedule
    mixture: GaussianMixture

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> ExperimentRun:
        """The schedule and exact mixture of ``config``: an oracle run's denoiser, a trained run's labels."""
        s = config.schedule
        schedule = NoiseSchedule.create(s.kind, s.T, s.beta_start, s.beta_end)
        return cls(config, schedule, GaussianMixture.from_spec(mixture_spec(config.data)))


@dataclass(frozen=True)
class SampleOutcome:
    result: SamplerResult
    labels: SampleLabels
    variance: np.ndarray  # (N,) trajectory variance of x̂0 over the last K steps
    summary: dict[str, Any]
    mixture: GaussianMixture

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything worth saving, as plain arrays (the .npz layout of ``modelab sample``)."""
        arrays = {
            "samples": self.result.samples,
            "x0_pred_last": self.result.x0_pred_last,
            "variance": self.variance,
            "label": self.labels.label,
            "nearest_mode": self.labels.nearest_mode,
            "distance_sigma": self.labels.distance_sigma,
            "between": self.labels.between,
            "segment_distance": self.labels.segment_distance,
            "means": self.mixture.means.numpy(),
            "sigmas": self.mixture.sigmas.numpy(),
        }
        if self.result.trajectory is not None and self.result.x0_trajectory is not None:
            arrays["trajectory"] = self.result.trajectory
            arrays["x0_trajectory"] = self.result.x0_trajectory
        return arrays

    def headline(self) -> dict[str, Any]:
        keys = ("n_samples", "share_in_support", "share_between_modes", "variance_auroc",
                "variance_auroc_standard_error", "removed_at_96_kept")
        return {k: self.summary[k] for k in keys}


def sample_and_label(
    denoiser: Denoiser,
    run: ExperimentRun,
    sampler: SamplerConfig,
    *,
    record_trajectory: bool = False,
    device: str = "cpu",
) -> SampleOutcome:
    result = run_sampler(denoiser, run.schedule, sampler, record_trajectory=record_trajectory, device=device)
    scored = score_samples(result.samples, result.x0_pred_last, run.mixture)
    return SampleOutcome(result, scored.labels, scored.variance, scored.summary, run.mixture)
