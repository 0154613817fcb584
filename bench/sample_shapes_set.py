"""The bundled sample set of models/shapes32.safetensors and the figures of its card, in shards.

    # two shard runs side by side (one torch thread each), then the merge
    PYTHONPATH=. OMP_NUM_THREADS=1 python bench/sample_shapes_set.py sample --seeds 1 2 3 4 --out-dir out/set &
    PYTHONPATH=. OMP_NUM_THREADS=1 python bench/sample_shapes_set.py sample --seeds 5 6 7 8 --out-dir out/set
    PYTHONPATH=. OMP_NUM_THREADS=1 python bench/sample_shapes_set.py merge --out-dir out/set \\
        --samples-out models/shapes32-samples.npz --train-report out/train.json --card models/shapes32.json

Each shard is ``--n`` (256) images of DDPM on the ``--chain-steps`` (100) strided chain (x̂0 clipped to [−1, 1]) with
its own seed; x̂0 over the last 20 steps is kept. The merge counts all shards as one set, scores the detectors, looks
at the duplicates' bottleneck neighbours and runs the exact denoiser with the first shard's seed and size, i.e. on
exactly the noise of the first shard's model samples. It prints ``reproduce_shapes``'s JSON and writes the bit-packed
set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from server.shapes.checkpoint import load_unet_checkpoint
from server.shapes.counting import LABELS, count_shapes
from server.shapes.reproduce import analyse_samples, merge_samples, sample_model
from server.shapes.sampling import ImageSamples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["sample", "merge"])
    parser.add_argument("--model", type=Path, default=Path("models/shapes32.safetensors"))
    parser.add_argument("--seeds", type=int, nargs="*", default=[])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--chain-steps", type=int, default=100)
    parser.add_argument("--out-dir", type=Path, default=Path("out/set"))
    parser.add_argument("--samples-out", type=Path, default=Path("models/shapes32-samples.npz"))
    parser.add_argument("--train-report", type=Path, help="bench/train_shapes_cpu.py's JSON, for the card")
    parser.add_argument("--card", type=Path, help="also write the model card here")
    parser.add_argument("--machine", default="2-core CPU shared with other work, 1 torch thread per process")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_unet_checkpoint(args.model)
    config, net = checkpoint.config, checkpoint.net
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.action == "sample":
        for seed in args.seeds:
            part = sample_model(net, config, n=args.n, seed=seed, steps=args.chain_steps)
            np.savez(args.out_dir / f"shard-{seed:04d}.npz", samples=part.samples, x0_last=part.x0_last,
                     seconds=np.array(part.seconds), seed=np.array(seed), chain_steps=np.array(args.chain_steps))
            labels = {name: int((part.counts.labels == i).sum()) for i, name in enumerate(LABELS)}
            print(f"seed {seed}: {part.seconds:.0f}s {labels}", file=sys.stderr, flush=True)
        return
    shards = sorted(args.out_dir.glob("shard-*.npz"))
    parts, seeds = [], []
    for path in shards:
        with np.load(path) as f:
            samples = f["samples"]
            parts.append(ImageSamples(samples, f["x0_last"], count_shapes(samples, config.data.resolution),
                                      float(f["seconds"])))
            seeds.append(int(f["seed"]))
            steps = int(f["chain_steps"])
    merged = merge_samples(parts, config.data.resolution)
    result = analyse_samples(net, config, merged, seed=seeds[0], steps=steps, oracle_n=parts[0].samples.shape[0],
                             log=sys.stderr)
    first = parts[0].counts.labels
    figures = {**result.figures, "seeds": seeds, "shard_n": parts[0].samples.shape[0],
               "first_shard_model_labels": {name: int((first == i).sum()) for i, name in enumerate(LABELS)}}
    np.savez_compressed(args.samples_out, **result.arrays, seeds=np.array(seeds))
    print(json.dumps(figures))
    if args.card is not None:
        train = json.loads(args.train_report.read_text()) if args.train_report else {}
        card = {
            "command": "python bench/train_shapes_cpu.py --threads 1 (then bench/sample_shapes_set.py, see its "
                       "docstring; the same preset as modelab train --dataset shapes32 --threads 1 --out "
                       "models/shapes32.safetensors)",
            "machine": args.machine, "experiment": "shapes32", "recipe": "cpu",
            "train_seconds": train.get("train_seconds"), "train_steps": train.get("steps"),
            "final_loss": train.get("final_loss"), "params": train.get("params"), "torch_threads": 1,
            "samples": str(args.samples_out), **figures,
        }
        args.card.write_text(json.dumps(card, indent=1) + "\n")


if __name__ == "__main__":
    main()
