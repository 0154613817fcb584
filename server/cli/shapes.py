"""The Simple Shapes side of ``modelab train``, ``sample`` and ``reproduce`` (``--dataset shapes32|shapes64``).

The Gaussian commands dispatch here when the dataset, the checkpoint or the experiment is an image one; the options
they share mean the same thing (``--steps`` of ``sample`` is the length of the strided chain). Options that only
make sense for the residual MLP (``--width``, ``--blocks``, ``--untied``, ``--mixture``) are refused by name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..diffusion.checkpoint import CheckpointError
from ..diffusion.config import SamplerConfig, describe_validation_error
from ..settings import REPO_ROOT
from ..shapes.checkpoint import load_unet_checkpoint, save_unet_checkpoint
from ..shapes.config import ShapesConfig, ShapesDataConfig, ShapesTrainConfig, UNetConfig
from ..shapes.counting import LABELS
from ..shapes.detection import trajectory_variance
from ..shapes.presets import SHAPES_PRESETS
from ..shapes.reproduce import reproduce_shapes
from ..shapes.sampling import oracle_denoiser, sample_images, unet_denoiser
from ..shapes.training import ShapesTrainingSetup, train_steps
from .options import (
    UsageError,
    _validated,
    checked_device,
    checkpoint_from,
    follow_training,
    print_json,
    refuse_oracle_options,
    require_suffix,
)

DEFAULT_CHAIN_STEPS = 100  # strided DDPM chain of a sample run: 1,000 steps of a CPU U-Net take minutes per image
DEFAULT_REPRODUCE_N = 2048  # the calibration's sample count
DEFAULT_ORACLE_N = 256  # the exact denoiser is a float64 sum over 5,000 images per step: costly on a CPU
MLP_ONLY = (("width", "--width"), ("blocks", "--blocks"), ("untied", "--untied"))


def is_shapes(name: str | None) -> bool:
    return name in SHAPES_PRESETS


def is_shapes_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a readable shapes checkpoint (the header only)."""
    from ..streaming.families import checkpoint_family

    return checkpoint_family(path) == "shapes"


def _refuse_mlp_options(args: argparse.Namespace) -> None:
    given = [flag for name, flag in MLP_ONLY if getattr(args, name, None) not in (None, False)]
    if given:
        raise UsageError(f"{', '.join(given)}: options of the residual MLP; a shapes U-Net takes --channels")


def _channels(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise UsageError(f"--channels: expected comma-separated integers such as 16,32,64, got {text!r}") from exc


def shapes_config(args: argparse.Namespace) -> ShapesConfig:
    """The preset of ``--dataset``, with the options given on the command line laid over it."""
    _refuse_mlp_options(args)
    base = SHAPES_PRESETS[args.dataset]
    data = _validated(ShapesDataConfig, {**base.data.model_dump(), "n": args.n_train}, {"n": "--n-train"})
    train_values = {k: getattr(args, k, None) for k in ("steps", "batch", "lr", "lr_schedule", "warmup", "seed")}
    train = _validated(ShapesTrainConfig, {**base.train.model_dump(), **{k: v for k, v in train_values.items()
                                                                        if v is not None}},
                       {k: "--" + k.replace("_", "-") for k in train_values})
    unet = _validated(UNetConfig, {**base.unet.model_dump(), "channels": _channels(getattr(args, "channels", None))},
                      {"channels": "--channels"})
    schedule = base.schedule.model_copy(update={k: v for k, v in (("kind", args.schedule), ("T", args.T))
                                                if v is not None})
    values = {"data": data.model_dump(), "schedule": schedule.model_dump(), "unet": unet.model_dump(),
              "train": train.model_dump()}
    try:
        return ShapesConfig.model_validate(values)
    except ValidationError as exc:  # the cross-field check (levels vs resolution) names unet.channels
        raise UsageError(describe_validation_error(exc).replace("unet.channels", "--channels")) from exc


def cmd_train_shapes(args: argparse.Namespace) -> int:
    config = shapes_config(args)
    require_suffix(args.out, ".safetensors")
    setup = ShapesTrainingSetup.create(config, checked_device(args))
    progress = follow_training(train_steps(setup, report_every=max(1, config.train.steps // 20)), args.quiet)
    save_unet_checkpoint(args.out, setup.sampling_net, config, train_seconds=f"{progress.elapsed:.2f}",
                         final_loss=f"{progress.loss:.6f}", steps_done=str(progress.step))
    print_json({"out": str(args.out), "dataset": args.dataset, "run_id": config.run_id(), "steps": progress.step,
                "train_seconds": round(progress.elapsed, 2), "final_loss": progress.loss})
    return 0


def _chain_steps(steps: int | None, config: ShapesConfig, flag: str = "--steps") -> int:
    steps = DEFAULT_CHAIN_STEPS if steps is None else steps
    if not 1 <= steps <= config.schedule.T or config.schedule.T % steps:
        raise UsageError(f"{flag}: the strided chain's length must divide T = {config.schedule.T}, got {steps}")
    return steps


def cmd_sample_shapes(args: argparse.Namespace) -> int:
    if args.mixture is not None:
        raise UsageError("--mixture: a shapes run takes --dataset shapes32 or shapes64")
    values = {k: getattr(args, k) for k in ("n", "sampler", "eta", "window", "seed")}
    sampler: SamplerConfig = _validated(SamplerConfig, values, {k: "--" + k for k in values})
    require_suffix(args.out, ".npz")
    if args.trajectories:
        raise UsageError("--trajectories: not stored for images (x̂0 over the last --window steps is)")
    if args.model == "oracle":
        if not is_shapes(args.dataset):
            raise UsageError("--model oracle needs --dataset shapes32 or shapes64 for images")
        config = shapes_config(args)
        steps = _chain_steps(args.steps, config)
        denoiser: Any = oracle_denoiser(config, steps)
    else:
        refuse_oracle_options(args)
        checkpoint = checkpoint_from(load_unet_checkpoint, args.model)
        config = checkpoint.config
        steps = _chain_steps(args.steps, config)
        denoiser = unet_denoiser(checkpoint.net.to(checked_device(args)), config, steps)
    result = sample_images(denoiser, config, sampler, steps)
    res = config.data.resolution
    score = trajectory_variance(result.x0_last)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, samples=result.samples, images=(result.samples > 0).reshape(-1, res, res),
        counts=result.counts.counts, labels=result.counts.labels, label_names=np.array(LABELS),
        trajectory_variance=score, x0_pred_last=result.x0_last, chain_steps=np.array(steps),
    )
    print_json({"out": str(args.out), "model": args.model, "dataset": f"shapes{res}", "n": sampler.n,
                "sampler": sampler.sampler, "chain_steps": steps, "window": sampler.window,
                "seconds": round(result.seconds, 2),
                "labels": {name: int((result.counts.labels == i).sum()) for i, name in enumerate(LABELS)}})
    return 0


def cmd_reproduce_shapes(args: argparse.Namespace) -> int:
    """The figures from the bundled checkpoint of the experiment, or from one trained now (``--train``)."""
    base = SHAPES_PRESETS[args.experiment]
    if args.recipe != "cpu":
        raise UsageError("--recipe: the shapes presets have one recipe each; leave --recipe out")
    if args.train:
        update = {"seed": args.seed, **({"steps": args.steps} if args.steps is not None else {})}
        train = _validated(ShapesTrainConfig, {**base.train.model_dump(), **update}, {"steps": "--steps",
                                                                                      "seed": "--seed"})
        config = base.model_copy(update={"train": train})
        setup = ShapesTrainingSetup.create(config, checked_device(args))
        follow_training(train_steps(setup, report_every=max(1, config.train.steps // 20)), args.quiet)
        net = setup.sampling_net
        if args.save_model is not None:
            save_unet_checkpoint(args.save_model, net, config)
    else:
        if args.steps is not None or args.save_model is not None:
            raise UsageError("--steps, --save-model: only with --train (the bundled model is already trained)")
        path = args.model or REPO_ROOT / "models" / f"{args.experiment}.safetensors"
        try:
            checkpoint = load_unet_checkpoint(path)
        except CheckpointError as exc:
            raise UsageError(f"--model: {exc} (or pass --train)") from exc
        config, net = checkpoint.config, checkpoint.net
        if config.data.resolution != base.data.resolution:
            raise UsageError(f"--model: a {config.data.resolution}-px checkpoint, not {args.experiment}")
    n = DEFAULT_REPRODUCE_N if args.n is None else args.n
    if not 2 <= n <= 200_000:
        raise UsageError(f"--n: must be 2 to 200,000, got {n}")
    if not 1 <= args.oracle_n <= n:
        raise UsageError(f"--oracle-n: must be 1 to --n ({n}), got {args.oracle_n}")
    steps = _chain_steps(args.chain_steps, config, "--chain-steps")
    result = reproduce_shapes(net, config, n=n, seed=args.sample_seed, steps=steps, oracle_n=args.oracle_n,
                              log=None if args.quiet else sys.stderr)
    if args.samples_out is not None:
        arrays: dict[str, Any] = result.arrays
        np.savez_compressed(args.samples_out, **arrays)
    print_json(result.figures)
    return 0
