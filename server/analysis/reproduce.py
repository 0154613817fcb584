"""``modelab reproduce``: train one of the paper's experiments, sample it and its oracle, report metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

import torch

from ..diffusion.config import SamplerConfig
from ..diffusion.training import train_steps
from ..gaussian.checkpoint import save_checkpoint
from ..gaussian.denoisers import NetworkDenoiser, OracleDenoiser
from ..gaussian.experiment import ExperimentRun, sample_and_label
from ..gaussian.recipes import experiment
from ..gaussian.training import TrainingSetup


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def reproduce(
    name: str,
    *,
    seed: int = 0,
    n_samples: int = 10_000,
    recipe: str = "cpu",
    sample_seed: int = 1,
    log: TextIO | None = None,
    device: str = "cpu",
    save_model: Path | None = None,
    steps: int | None = None,
) -> dict[str, Any]:
    """Train with the recipe, sample ``n_samples`` particles from the model and from the exact
    mixture denoiser on the same noise, and return one JSON-ready dict of figures."""
    config = experiment(name, seed=seed, recipe=recipe, steps=steps)
    setup = TrainingSetup.create(config, device)
    progress = None
    for progress in train_steps(setup, report_every=max(1, config.train.steps // 10)):
        if log is not None:
            print(f"[{name}] step {progress.step}/{progress.steps} loss {progress.loss:.4f} "
                  f"{progress.elapsed:.1f}s", file=log, flush=True)
    assert progress is not None
    if save_model is not None:
        save_checkpoint(save_model, setup.net, config, train_seconds=f"{progress.elapsed:.2f}",
                        final_loss=f"{progress.loss:.6f}", device=device, recipe=recipe)
    sampler = SamplerConfig(n=n_samples, seed=sample_seed)
    run = ExperimentRun(config, setup.schedule, setup.mixture)
    model = sample_and_label(NetworkDenoiser(setup.net), run, sampler, device=device)
    oracle = sample_and_label(OracleDenoiser(setup.mixture, setup.schedule), run, sampler)
    return _rounded({
        "experiment": name,
        "run_id": config.run_id(),
        "recipe": recipe,
        "seed": seed,
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "train_seconds": progress.elapsed,
        "train_steps": progress.step,
        "batch": config.train.batch,
        "final_loss": progress.loss,
        **model.summary,
        "oracle": {k: oracle.summary[k] for k in ("share_in_support", "share_between_modes", "share_outside")},
    })
