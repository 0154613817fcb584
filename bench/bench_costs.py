"""The cost model against the clock: measured seconds next to ``server.diffusion.costs``' estimates.

For a few network shapes: one training step (median of a few, after a warm-up step) and one reverse
step over ``--n`` particles. Prints one JSON object per line, with ``ratio`` = measured / estimated;
ratios near or below 1 on an idle machine mean the budgets admit what they promise. Run with one
torch thread, as the server's jobs do:

    OMP_NUM_THREADS=1 python bench/bench_costs.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from server.diffusion.sampling import reverse_process
from server.diffusion.schedule import NoiseSchedule
from server.diffusion.training import train_steps, warm_up
from server.gaussian.config import ExperimentConfig, NetConfig
from server.gaussian.costs import network_rows_seconds
from server.gaussian.denoisers import NetworkDenoiser
from server.gaussian.nets import ResidualMLP
from server.gaussian.training import TrainingSetup, training_cost

SHAPES = [  # (width, blocks, tied, training batch)
    (32, 3, True, 2048), (128, 3, True, 2048), (128, 3, True, 8192), (256, 3, True, 2048), (512, 8, False, 256),
]


def compared(measured: float, estimated: float) -> dict[str, float]:
    return {"measured_s": round(measured, 4), "estimated_s": round(estimated, 4),
            "ratio": round(measured / estimated, 2)}


def train_step(width: int, blocks: int, tied: bool, batch: int, steps: int = 5) -> dict[str, object]:
    config = ExperimentConfig.model_validate({"net": {"width": width, "blocks": blocks, "tied": tied},
                                              "train": {"steps": steps, "batch": batch}})
    times, last = [], time.perf_counter()
    for _ in train_steps(TrainingSetup.create(config), report_every=1):
        now = time.perf_counter()
        times.append(now - last)
        last = now
    measured = statistics.median(times[1:])
    estimated = training_cost(config).step_seconds
    return {"what": "training step", "width": width, "blocks": blocks, "tied": tied, "batch": batch,
            **compared(measured, estimated)}


def sample_step(width: int, blocks: int, tied: bool, n: int, T: int = 20) -> dict[str, object]:
    net_config = NetConfig(width=width, blocks=blocks, tied=tied)
    net = ResidualMLP(net_config, 2, torch.Generator().manual_seed(0))
    schedule = NoiseSchedule.create("linear", T, 0.001, 0.2)
    start = time.perf_counter()
    for _ in reverse_process(NetworkDenoiser(net), schedule, n=n, generator=torch.Generator().manual_seed(0)):
        pass
    measured = (time.perf_counter() - start) / T
    estimated = network_rows_seconds(net_config, 2, n)
    return {"what": "sampling step", "width": width, "blocks": blocks, "tied": tied, "n": n,
            **compared(measured, estimated)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="particles per sampling step")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warm_up()
    sample_step(32, 1, True, 100)  # compiles the fused sampling kernel
    for width, blocks, tied, batch in SHAPES:
        print(json.dumps(train_step(width, blocks, tied, batch)), flush=True)
        print(json.dumps(sample_step(width, blocks, tied, args.n)), flush=True)


if __name__ == "__main__":
    main()
