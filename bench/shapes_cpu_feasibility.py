"""Does a reduced Simple Shapes U-Net trained briefly on a CPU draw duplicates? A feasibility check, not a recipe.

    PYTHONPATH=. OMP_NUM_THREADS=1 python bench/shapes_cpu_feasibility.py MINUTES [OUT_DIR] ['<ShapesConfig JSON>']

Trains (one torch thread) until MINUTES of wall time or the config's steps, whichever comes first, saves the
checkpoint, then samples 128 images with a 100-step strided chain (DDPM and DDIM η = 0, same seed) and counts
them. Prints one JSON object: parameters, checkpoint bytes, seconds per training step, loss, labels per sampler.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from server.diffusion.config import SamplerConfig
from server.diffusion.detectors import auroc, trajectory_variance
from server.diffusion.layers import parameter_count
from server.diffusion.sampling import run_sampler
from server.diffusion.schedule import NoiseSchedule
from server.shapes.checkpoint import save_unet_checkpoint
from server.shapes.config import ShapesConfig
from server.shapes.counting import DUPLICATE, LABELS, count_shapes
from server.shapes.training import ShapesTrainingSetup, train_steps
from server.shapes.unet import UNetDenoiser

DEFAULT = {
    "data": {"resolution": 32},
    "unet": {"channels": [16, 32, 64]},
    "train": {"steps": 20_000, "batch": 32, "lr": 5e-4, "warmup": 50, "ema": 0.995},
}
STRIDE = 10  # 1,000-step training chain sampled in 100 steps


def main() -> None:
    torch.set_num_threads(1)
    minutes = float(sys.argv[1])
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "out/shapes-feasibility")
    config = ShapesConfig.model_validate(json.loads(sys.argv[3]) if len(sys.argv) > 3 else DEFAULT)
    setup = ShapesTrainingSetup.create(config)
    last = None
    for progress in train_steps(setup, report_every=25):
        last = progress
        print(f"step {progress.step} loss {progress.loss:.4f} {progress.elapsed:.0f}s", file=sys.stderr, flush=True)
        if progress.elapsed > 60 * minutes:
            break
    assert last is not None
    path = out / "unet.safetensors"
    save_unet_checkpoint(path, setup.sampling_net, config, steps_done=str(last.step))
    s = config.schedule
    short = NoiseSchedule.create("continuous", s.T // STRIDE, s.beta_start, s.beta_end)
    report: dict[str, object] = {
        "config": json.loads(config.canonical_json()), "params": parameter_count(setup.net),
        "checkpoint_bytes": path.stat().st_size, "steps": last.step, "train_seconds": round(last.elapsed, 1),
        "seconds_per_step": round(last.elapsed / last.step, 3), "loss_last_25": round(last.loss, 4),
    }
    denoiser = UNetDenoiser(setup.sampling_net, stride=STRIDE)
    for sampler in ("ddpm", "ddim"):
        start = time.perf_counter()
        result = run_sampler(denoiser, short, SamplerConfig(n=128, seed=1, sampler=sampler))
        counts = count_shapes(result.samples, config.data.resolution)
        np.savez_compressed(out / f"samples-{sampler}.npz", samples=result.samples > 0, labels=counts.labels)
        scores = trajectory_variance(result.x0_pred_last)
        report[sampler] = {
            "seconds": round(time.perf_counter() - start, 1),
            "labels": {name: int((counts.labels == i).sum()) for i, name in enumerate(LABELS)},
            "presence": (counts.counts.sum(axis=2) > 0).mean(axis=0).round(3).tolist(),
            "auroc_duplicate": round(auroc(scores, counts.labels == DUPLICATE), 3),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
