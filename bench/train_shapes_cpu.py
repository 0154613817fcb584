"""Train the bundled reduced Simple Shapes U-Net (32×32, channels 8/16/32) on a CPU and write its checkpoint.

    PYTHONPATH=. OMP_NUM_THREADS=1 python bench/train_shapes_cpu.py [--threads 1] [--out models/shapes32.safetensors]

The recipe is ``SHAPES32`` (server/shapes/presets.py): the reduced model of bench/shapes_cpu_feasibility.py, whose
first 1,225 steps already drew duplicates. It runs to the preset's step count (no wall-clock cut, so the command
reproduces the file) and prints one JSON object: parameters, bytes, steps, seconds, loss, threads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from server.diffusion.layers import parameter_count
from server.shapes.checkpoint import save_unet_checkpoint
from server.shapes.presets import SHAPES32
from server.shapes.training import ShapesTrainingSetup, train_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("models/shapes32.safetensors"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    setup = ShapesTrainingSetup.create(SHAPES32)
    last = None
    for progress in train_steps(setup, report_every=50):
        last = progress
        print(f"step {progress.step} loss {progress.loss:.4f} {progress.elapsed:.0f}s", file=sys.stderr, flush=True)
    assert last is not None
    seconds = f"{last.elapsed:.1f}"
    save_unet_checkpoint(args.out, setup.sampling_net, SHAPES32, steps_done=str(last.step), train_seconds=seconds,
                         torch_threads=str(args.threads))
    print(json.dumps({
        "run_id": SHAPES32.run_id(), "params": parameter_count(setup.net), "bytes": args.out.stat().st_size,
        "steps": last.step, "train_seconds": round(last.elapsed, 1), "final_loss": round(last.loss, 5),
        "torch_threads": args.threads,
    }))


if __name__ == "__main__":
    main()
