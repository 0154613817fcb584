"""What the live x̂0 previews cost a training job (one JSON object per dataset on stdout).

Runs ``train_run`` (server.jobs.trainer) with previews on, timing every ``PreviewGrid.learned`` call and its
payload, and compares their sum with the run's training seconds (goal: ≤ 5 %). A 1-step run first pays the
process's one-time torch costs, as the server does at start.

    python bench/bench_preview.py [--steps 1000] [--batch 2048] [--datasets 1d-123 grid25]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

from server.gaussian.config import ExperimentConfig
from server.jobs import preview
from server.jobs.trainer import Trained, train_run


def measure(dataset: str, steps: int, batch: int) -> dict[str, Any]:
    config = ExperimentConfig.model_validate({"data": {"dataset": dataset}, "train": {"steps": steps, "batch": batch}})
    spent: list[float] = []
    originals = {name: getattr(preview.PreviewGrid, name) for name in ("learned", "payload")}

    def timing(function: Any) -> Any:
        def timed(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args)
            finally:
                spent.append(time.perf_counter() - start)
        return timed

    for name, function in originals.items():
        setattr(preview.PreviewGrid, name, timing(function))
    try:
        run = train_run(config, history_points=200, threads=1)
        while True:
            next(run)
    except StopIteration as stop:
        trained: Trained = stop.value
    finally:
        for name, function in originals.items():
            setattr(preview.PreviewGrid, name, function)
    return {"dataset": dataset, "steps": steps, "batch": batch, "previews": len(spent) // 2,
            "preview_s": round(sum(spent), 4), "train_s": round(trained.train_seconds, 2),
            "share_percent": round(100 * sum(spent) / trained.train_seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--datasets", nargs="+", default=["1d-123", "grid25"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    for _ in train_run(ExperimentConfig.model_validate({"train": {"steps": 1, "batch": 8}}), history_points=2,
                       threads=1):
        pass  # the process's first forward and backward pay one-time costs (about a second) a server pays at start
    for dataset in args.datasets:
        print(json.dumps(measure(dataset, args.steps, args.batch)))


if __name__ == "__main__":
    main()
