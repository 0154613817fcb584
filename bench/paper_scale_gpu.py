"""Train the paper's experiments with the official recipe on a GPU and record their metrics.

Official recipe: batch 10,000, Adam 1e-3 constant, uniform t, 10,000 epochs (grid25: 100,000 steps).
A 300-step probe measures this device's rate first; if the full run would not fit in
``--budget`` seconds, the run is cut to the steps that fit and the output says so (the reference
measurement of the official code was cut the same way, at 57,400 steps).

    python bench/paper_scale_gpu.py grid25 1d-123 --out models --budget 400
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from server.analysis.reproduce import reproduce
from server.diffusion.training import train_steps
from server.gaussian.recipes import PAPER_STEPS, experiment
from server.gaussian.training import TrainingSetup


def probe_rate(name: str, device: str, steps: int = 300) -> float:
    setup = TrainingSetup.create(experiment(name, recipe="paper", steps=steps), device)
    last = list(train_steps(setup, report_every=steps))[-1]
    return steps / last.elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiments", nargs="+", choices=list(PAPER_STEPS))
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--budget", type=float, default=400.0, help="seconds of training per experiment")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    torch.set_num_threads(8)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.experiments:
        rate = probe_rate(name, args.device)
        steps = min(PAPER_STEPS[name], int(rate * args.budget))
        print(f"[{name}] {rate:.0f} steps/s → {steps} of {PAPER_STEPS[name]} steps", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = reproduce(name, recipe="paper", device=args.device, steps=steps, log=sys.stderr,
                           save_model=args.out / f"{name}-paper.safetensors")
        result["paper_steps"] = PAPER_STEPS[name]
        result["probe_steps_per_s"] = round(rate, 1)
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
        (args.out / f"{name}-paper.json").write_text(json.dumps(result, indent=1))
        print(json.dumps({k: result[k] for k in ("experiment", "train_steps", "train_seconds",
                                                 "share_in_support", "share_between_modes", "variance_auroc",
                                                 "removed_at_96_kept")}), flush=True)


if __name__ == "__main__":
    main()
