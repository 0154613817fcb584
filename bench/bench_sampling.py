"""Sampling throughput: particles × steps per second with x̂0 recorded at every step.

Ours (``reverse_process`` with the paper's width-128 tied residual MLP) against the official
sampler (``GaussianDiffusion.p_sample_save_all`` of locuslab/diffusion-model-hallucination) on the
same machine, same thread count, same particles and steps, interleaved runs, best of ``--repeats``.

The official code is not part of this repository: pass ``--official DIR`` pointing at the
``gaussian_experiments`` folder of a checkout to measure it side by side. Without it only our figure
is printed (the reference ≈300,000 particle-steps/s on 2 cores is in reference-measurements.md).

    python bench/bench_sampling.py --official /path/to/diffusion-model-hallucination/gaussian_experiments
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import types
from pathlib import Path

import torch

from server.diffusion.layers import parameter_count
from server.diffusion.sampling import reverse_process
from server.diffusion.schedule import NoiseSchedule
from server.gaussian.config import NetConfig
from server.gaussian.denoisers import NetworkDenoiser
from server.gaussian.nets import ResidualMLP


def ours(width: int, n: int, T: int) -> float:
    """Seconds to run the whole chain, keeping every x̂0 (like p_sample_save_all does)."""
    net = ResidualMLP(NetConfig(width=width), dim=2, generator=torch.Generator().manual_seed(0))
    schedule = NoiseSchedule.create("linear", T, 0.001, 0.2)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    kept = [step.x0_pred for step in reverse_process(NetworkDenoiser(net), schedule, n=n, generator=generator)]
    elapsed = time.perf_counter() - start
    assert len(kept) == T + 1
    return elapsed


def load_official(root: Path) -> types.SimpleNamespace:
    """Import the official toy model and diffusion without its package __init__ (which needs sklearn)."""
    package = types.ModuleType("ddpm_torch")
    package.__path__ = [str(root / "ddpm_torch")]
    toy = types.ModuleType("ddpm_torch.toy")
    toy.__path__ = [str(root / "ddpm_torch" / "toy")]
    sys.modules["ddpm_torch"], sys.modules["ddpm_torch.toy"] = package, toy
    base = importlib.import_module("ddpm_torch.diffusion")
    return types.SimpleNamespace(
        get_beta_schedule=base.get_beta_schedule,
        GaussianDiffusion=importlib.import_module("ddpm_torch.toy.diffusion").GaussianDiffusion,
        Decoder=importlib.import_module("ddpm_torch.toy.toy_model").Decoder,
    )


def official(code: types.SimpleNamespace, width: int, n: int, T: int) -> float:
    torch.manual_seed(0)
    model = code.Decoder(2, width, 3).eval()
    betas = code.get_beta_schedule("linear", 0.001, 0.2, T)
    diffusion = code.GaussianDiffusion(betas, model_mean_type="eps", model_var_type="fixed-large", loss_type="mse")
    start = time.perf_counter()
    diffusion.p_sample_save_all(model, shape=(n, 2), device=torch.device("cpu"), seed=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--official", type=Path, help="gaussian_experiments folder of the official code")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--T", type=int, default=1000)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    code = load_official(args.official) if args.official else None
    work = args.n * args.T
    ours_s, official_s = [], []
    for _ in range(args.repeats):  # interleave so load changes hit both alike
        ours_s.append(ours(args.width, args.n, args.T))
        if code is not None:
            import contextlib
            import io

            with contextlib.redirect_stdout(io.StringIO()):  # the official constructor prints
                official_s.append(official(code, args.width, args.n, args.T))
    result = {
        "particles": args.n,
        "steps": args.T,
        "width": args.width,
        "parameters": parameter_count(ResidualMLP(NetConfig(width=args.width), 2)),
        "threads": args.threads,
        "torch": torch.__version__,
        "ours_seconds": round(min(ours_s), 3),
        "ours_particle_steps_per_s": round(work / min(ours_s)),
    }
    if official_s:
        result["official_seconds"] = round(min(official_s), 3)
        result["official_particle_steps_per_s"] = round(work / min(official_s))
        result["speedup"] = round(min(official_s) / min(ours_s), 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
