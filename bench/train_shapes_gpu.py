"""Train the paper-scale Simple Shapes U-Net (``shapes64``) on a GPU, sample its set there, and write the bundle.

    PYTHONPATH=. python bench/train_shapes_gpu.py --device cuda --out-dir models [--budget 300] [--n 2048]

One prepared run for a GPU session (the device is lent for minutes): train the ``SHAPES64`` preset
(server/shapes/presets.py: 64×64, the default 2.1M U-Net, the calibration's recipe) with the same progress generator
as every other training, cut to the steps that fit ``--budget`` seconds (measured on a 50-step probe; the output
says so, and the checkpoint's config then names the steps actually done, so its run id is that run's), then DDPM
on the ``--chain-steps`` strided chain for ``--n`` images on the GPU, and the figures of
server/shapes/reproduce.analyse_samples on this machine's CPU cores (counts, detectors, bottleneck neighbours, the
exact denoiser on the first shard's noise). Writes ``shapes64.safetensors`` (fp16, < 5 MB), ``shapes64-samples.npz``
and the card ``shapes64.json`` into ``--out-dir`` and prints the card. ``--device cpu --preset shapes32 --budget 5
--n 8`` runs the whole path on a CPU in about a minute (a check of the script, not a model; shapes64 on a CPU takes
several seconds a step).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from server.diffusion.layers import parameter_count
from server.diffusion.sampling import Denoiser
from server.shapes.checkpoint import save_unet_checkpoint
from server.shapes.config import ShapesConfig
from server.shapes.counting import LABELS
from server.shapes.presets import SHAPES_PRESETS
from server.shapes.reproduce import analyse_samples, sample_model
from server.shapes.training import ShapesTrainingSetup, train_steps
from server.shapes.unet import UNet

PROBE_STEPS = 50


class OnDevice:
    """The core's CPU-side reverse process (noise from an explicit CPU generator) with the U-Net on the GPU: x_t goes
    over, ε̂ comes back, each step (2,048 × 4,096 floats: ~32 MB, well under a millisecond on a PCIe 5 link)."""

    def __init__(self, inner: Denoiser, device: str):
        self.inner, self.device, self.dim = inner, device, inner.dim

    def predict_eps(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        return self.inner.predict_eps(x_t.to(self.device), t).to("cpu")


def with_steps(config: ShapesConfig, steps: int) -> ShapesConfig:
    return ShapesConfig.model_validate_json(
        config.model_copy(update={"train": config.train.model_copy(update={"steps": steps})}).canonical_json())


def train(preset: ShapesConfig, device: str, budget: float) -> tuple[ShapesConfig, UNet, dict[str, object]]:
    config = preset
    probe = list(train_steps(ShapesTrainingSetup.create(with_steps(config, PROBE_STEPS), device),
                             report_every=PROBE_STEPS))[-1]
    rate = PROBE_STEPS / probe.elapsed
    steps = min(config.train.steps, max(PROBE_STEPS, int(rate * budget)))
    config = with_steps(config, steps)  # the lr is constant after warm-up: a cut run is exactly a shorter run
    setup = ShapesTrainingSetup.create(config, device)
    last = None
    for progress in train_steps(setup, report_every=250):
        last = progress
        print(f"step {progress.step}/{steps} loss {progress.loss:.4f} {progress.elapsed:.0f}s", file=sys.stderr,
              flush=True)
    assert last is not None
    report: dict[str, object] = {
        "train_steps": last.step, "preset_steps": preset.train.steps, "cut_to_budget": steps < preset.train.steps,
        "train_seconds": round(last.elapsed, 1), "final_loss": round(last.loss, 5),
        "probe_steps_per_second": round(rate, 2), "params": parameter_count(setup.net),
    }
    return config, setup.sampling_net, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--preset", choices=sorted(SHAPES_PRESETS), default="shapes64")
    parser.add_argument("--out-dir", type=Path, default=Path("models"))
    parser.add_argument("--budget", type=float, default=300.0, help="seconds of training")
    parser.add_argument("--n", type=int, default=2048, help="images in the bundled sample set")
    parser.add_argument("--chain-steps", type=int, default=100, help="DDPM steps of the strided sampling chain")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--oracle-n", type=int, default=256)
    parser.add_argument("--threads", type=int, default=8, help="CPU threads for the analysis")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"

    name = args.preset
    config, net, report = train(SHAPES_PRESETS[name], args.device, args.budget)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = args.out_dir / f"{name}.safetensors"
    save_unet_checkpoint(model_path, net, config, steps_done=str(report["train_steps"]),
                         train_seconds=str(report["train_seconds"]), device=device_name)

    net = net.eval()
    start = time.perf_counter()
    with torch.inference_mode():
        samples = sample_model(net, config, n=args.n, seed=args.seed, steps=args.chain_steps,
                               wrap=lambda d: OnDevice(d, args.device))
    print(f"sampled {args.n} images in {time.perf_counter() - start:.0f}s", file=sys.stderr, flush=True)

    cpu_net = net.to("cpu").float()
    result = analyse_samples(cpu_net, config, samples, seed=args.seed, steps=args.chain_steps,
                             oracle_n=min(args.oracle_n, args.n), log=sys.stderr)
    np.savez_compressed(args.out_dir / f"{name}-samples.npz", **result.arrays,  # type: ignore[arg-type]
                        seeds=np.array([args.seed]))
    card = {
        "command": f"python bench/train_shapes_gpu.py --device {args.device} --preset {name} --out-dir models "
                   f"--budget {args.budget:g} --n {args.n} --chain-steps {args.chain_steps}",
        "device": device_name, "experiment": name, "recipe": "gpu", **report,
        "bytes": model_path.stat().st_size, "samples": f"models/{name}-samples.npz", **result.figures,
        "model_labels": {name: int((samples.counts.labels == i).sum()) for i, name in enumerate(LABELS)},
    }
    (args.out_dir / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card))


if __name__ == "__main__":
    main()
