"""CPU sampling throughput: the shipped shapes U-Net on the core's reverse process vs diffusers' ``UNet2DModel`` +
``DDPMScheduler`` at the same resolution and a comparable parameter count, same machine and threads.

    PYTHONPATH=. OMP_NUM_THREADS=1 python bench/bench_shapes_sampling.py [--model models/shapes32.safetensors]
        [--n 16] [--steps 1000] [--threads 1] [--repeats 3]

Both run ``--steps`` DDPM steps on ``--n`` images, x̂0 clipped to [−1, 1] and kept (ours: the core's window of 10;
diffusers: the scheduler's ``pred_original_sample`` of every step, kept over the last 10). diffusers is a bench-only
dependency (``pip install diffusers``), not one of the project's. Prints one JSON object: parameters, seconds, image-
steps per second and the ratio. With ``--repeats`` R the two run alternately R times (a shared machine's speed drifts
by 1.5× between runs of a minute): each pair's ratio is printed, with the median and the ratio of the best times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from server.diffusion.config import SamplerConfig
from server.diffusion.layers import parameter_count
from server.diffusion.sampling import run_sampler
from server.shapes.checkpoint import load_unet_checkpoint
from server.shapes.sampling import strided_schedule, unet_denoiser

WINDOW = 10


def ours(path: Path, n: int, steps: int) -> dict[str, float]:
    checkpoint = load_unet_checkpoint(path)
    schedule = strided_schedule(checkpoint.config, steps)
    denoiser = unet_denoiser(checkpoint.net, checkpoint.config, steps)  # x̂0 clipped, as diffusers' clip_sample
    start = time.perf_counter()
    run_sampler(denoiser, schedule, SamplerConfig(n=n, seed=0, window=WINDOW))
    return {"params": parameter_count(checkpoint.net), "seconds": time.perf_counter() - start,
            "resolution": checkpoint.net.resolution}


def theirs(resolution: int, channels: tuple[int, ...], n: int, steps: int) -> dict[str, float]:
    from diffusers import DDPMScheduler, UNet2DModel

    levels = len(channels)
    net = UNet2DModel(
        sample_size=resolution, in_channels=1, out_channels=1, block_out_channels=channels, layers_per_block=1,
        norm_num_groups=min(8, channels[0]),
        down_block_types=("DownBlock2D",) * (levels - 1) + ("AttnDownBlock2D",),
        up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (levels - 1),
    ).eval()
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")
    scheduler.set_timesteps(steps)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((n, 1, resolution, resolution), generator=generator)
    kept: list[torch.Tensor] = []
    start = time.perf_counter()
    with torch.inference_mode():
        for t in scheduler.timesteps:
            eps = net(x, t).sample
            out = scheduler.step(eps, t, x, generator=generator)
            x = out.prev_sample
            kept = [*kept[-(WINDOW - 1):], out.pred_original_sample]
    return {"params": sum(p.numel() for p in net.parameters()), "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/shapes32.safetensors"))
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="alternate ours / diffusers this many times")
    parser.add_argument("--channels", default="8,16,32", help="diffusers UNet2DModel block_out_channels")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    channels = tuple(int(c) for c in args.channels.split(","))
    pairs = []
    for _ in range(args.repeats):
        a = ours(args.model, args.n, args.steps)
        pairs.append((a, theirs(int(a["resolution"]), channels, args.n, args.steps)))
    best_a = min((a for a, _ in pairs), key=lambda r: r["seconds"])
    best_b = min((b for _, b in pairs), key=lambda r: r["seconds"])
    rate_a, rate_b = args.n * args.steps / best_a["seconds"], args.n * args.steps / best_b["seconds"]
    ratios = [b["seconds"] / a["seconds"] for a, b in pairs]
    print(json.dumps({
        "n": args.n, "steps": args.steps, "threads": args.threads, "resolution": best_a["resolution"],
        "ours": {"params": best_a["params"], "seconds": [round(a["seconds"], 2) for a, _ in pairs],
                 "image_steps_per_s_best": round(rate_a, 1)},
        "diffusers": {"params": best_b["params"], "seconds": [round(b["seconds"], 2) for _, b in pairs],
                      "image_steps_per_s_best": round(rate_b, 1)},
        "speedups": [round(r, 2) for r in ratios],
        "speedup_median": round(statistics.median(ratios), 2),
        "speedup_best_times": round(rate_a / rate_b, 2),
    }))


if __name__ == "__main__":
    main()
