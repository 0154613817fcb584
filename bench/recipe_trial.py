"""One trial of the CPU-recipe search: train with given TrainConfig overrides, sample 10,000, summarise.

Prints one JSON line. bench/RECIPE.md lists the trials behind the default recipe, all run with:

    python bench/recipe_trial.py grid25 '{"steps": 3000, "batch": 2048, "lr": 0.02, "low_t_share": 0.7}'
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from server.diffusion.config import SamplerConfig, TrainConfig
from server.diffusion.sampling import run_sampler
from server.diffusion.training import train_steps
from server.gaussian.config import DataConfig, ExperimentConfig
from server.gaussian.denoisers import NetworkDenoiser
from server.gaussian.metrics import summarize
from server.gaussian.training import TrainingSetup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("overrides", help="JSON object of TrainConfig fields")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = json.loads(args.overrides)
    config = ExperimentConfig(data=DataConfig(dataset=args.dataset), train=TrainConfig(**overrides))
    setup = TrainingSetup.create(config)
    last = list(train_steps(setup, report_every=config.train.steps))[-1]
    started = time.perf_counter()
    result = run_sampler(NetworkDenoiser(setup.net), setup.schedule, SamplerConfig(n=args.n, seed=1))
    summary = summarize(result.samples, result.x0_pred_last, setup.mixture)
    summary.pop("per_mode_share")
    print(json.dumps({"overrides": overrides, "threads": args.threads, "train_s": round(last.elapsed, 1),
                      "sample_s": round(time.perf_counter() - started, 1), **summary}))


if __name__ == "__main__":
    main()
