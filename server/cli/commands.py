"""``modelab``: train, sample, reproduce the paper's experiments (Gaussian and Simple Shapes), analyse, serve the lab.

Every option's default comes from the config models (the shared options: ``options.py``). Bad input
(unknown dataset, malformed mixture file, out-of-range value, missing checkpoint) prints one line
on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from ..diffusion.config import SamplerConfig, TrainConfig, describe_validation_error
from ..diffusion.training import train_steps
from ..gaussian.checkpoint import load_checkpoint, save_checkpoint
from ..gaussian.config import ExperimentConfig
from ..gaussian.denoisers import NetworkDenoiser, OracleDenoiser
from ..gaussian.experiment import ExperimentRun, sample_and_label
from ..gaussian.recipes import EXPERIMENT_NAMES
from ..gaussian.training import TrainingSetup
from ..shapes.presets import SHAPES_PRESETS
from .analysis import add_analysis_commands  # mechanism, detectors, sweep, recursive (issue #5)
from .options import (
    EXIT_USAGE,
    OneLineParser,
    UsageError,
    _help,
    add_data_options,
    add_sampler_options,
    add_schedule_options,
    add_threads_option,
    add_train_options,
    checked_device,
    checkpoint_from,
    data_config,
    experiment_config,
    follow_training,
    print_json,
    refuse_oracle_options,
    require_suffix,
    sampler_config,
    schedule_config,
)
from .shapes import (
    DEFAULT_ORACLE_N,
    cmd_reproduce_shapes,
    cmd_sample_shapes,
    cmd_train_shapes,
    is_shapes,
    is_shapes_checkpoint,
)

# ----------------------------------------------------------------------------- commands


def _refuse(given: list[tuple[str, Any]], why: str) -> None:
    flags = [flag for flag, value in given if value not in (None, False)]
    if flags:
        raise UsageError(f"{', '.join(flags)}: {why}")


def cmd_train(args: argparse.Namespace) -> int:
    if is_shapes(args.dataset):
        return cmd_train_shapes(args)
    _refuse([("--channels", args.channels)], "only for the shapes datasets (the MLP takes --width)")
    config = experiment_config(args)
    require_suffix(args.out, ".safetensors")
    setup = TrainingSetup.create(config, checked_device(args))
    progress = follow_training(train_steps(setup, report_every=max(1, config.train.steps // 20)), args.quiet)
    save_checkpoint(args.out, setup.net, config, train_seconds=f"{progress.elapsed:.2f}",
                    final_loss=f"{progress.loss:.6f}", threads=str(torch.get_num_threads()))
    print_json({"out": str(args.out), "run_id": config.run_id(), "steps": progress.step,
                "train_seconds": round(progress.elapsed, 2), "final_loss": progress.loss})
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    if is_shapes(args.dataset) or (args.model != "oracle" and is_shapes_checkpoint(Path(args.model))):
        return cmd_sample_shapes(args)
    _refuse([("--steps", args.steps)], "the strided chain is for shapes models (a Gaussian run samples all T)")
    sampler = sampler_config(args)
    require_suffix(args.out, ".npz")
    if args.model == "oracle":
        if args.dataset is None and args.mixture is None:
            raise UsageError("--model oracle needs --dataset or --mixture")
        config = ExperimentConfig(data=data_config(args), schedule=schedule_config(args))
        run = ExperimentRun.from_config(config)
        denoiser: Any = OracleDenoiser(run.mixture, run.schedule)
    else:
        refuse_oracle_options(args)
        checkpoint = checkpoint_from(load_checkpoint, args.model)
        run = ExperimentRun.from_config(checkpoint.config)
        denoiser = NetworkDenoiser(checkpoint.net.to(checked_device(args)))
    device = "cpu" if args.model == "oracle" else checked_device(args)
    outcome = sample_and_label(denoiser, run, sampler, record_trajectory=args.trajectories, device=device)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = outcome.arrays()
    np.savez_compressed(args.out, **arrays)
    print_json({"out": str(args.out), **outcome.headline()})
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ..analysis.reproduce import reproduce

    if args.experiment in SHAPES_PRESETS:
        return cmd_reproduce_shapes(args)
    _refuse([("--model", args.model), ("--chain-steps", args.chain_steps), ("--samples-out", args.samples_out),
             ("--oracle-n", args.oracle_n if args.oracle_n != DEFAULT_ORACLE_N else None)],
            "only for the shapes experiments (a Gaussian reproduction always trains)")
    n_samples = 10_000 if args.n is None else args.n
    result = reproduce(args.experiment, seed=args.seed, n_samples=n_samples, recipe=args.recipe,
                       sample_seed=args.sample_seed, log=None if args.quiet else sys.stderr,
                       device=checked_device(args), save_model=args.save_model, steps=args.steps)
    print_json(result)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib.util
    import os

    import uvicorn

    if args.ray is not None:
        from ..jobs.ray_address import ClusterUnreachable, check_head

        if importlib.util.find_spec("ray") is None:
            raise UsageError("--ray: Ray is not installed; pip install -e '.[ray]'")
        try:
            check_head(args.ray)
        except ClusterUnreachable as exc:
            raise UsageError(f"--ray: {exc}") from None
        os.environ["MODELAB_RAY_ADDRESS"] = args.ray  # server.app reads its settings from the environment
    uvicorn.run("server.app:app", host=args.host, port=args.port, workers=1, timeout_graceful_shutdown=10)
    return 0


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="modelab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = sub.add_parser("train", help="train a denoiser on a mixture and save a safetensors checkpoint",
                           description="Train the paper's residual MLP (ε-prediction) on a Gaussian mixture.")
    add_data_options(train, required=True)
    add_schedule_options(train)
    add_train_options(train)
    train.add_argument("--seed", type=int, help=_help("seed for data, init and training noise", TrainConfig, "seed"))
    train.add_argument("--out", type=Path, required=True, metavar="MODEL.safetensors", help="checkpoint to write")
    train.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_threads_option(train, 2)
    train.set_defaults(func=cmd_train)

    sample = sub.add_parser("sample", help="run the reverse process and save samples, x̂0 and labels (.npz)",
                            description="Sample from a checkpoint, or from the exact mixture denoiser ('oracle').")
    sample.add_argument("--model", required=True, metavar="MODEL.safetensors|oracle",
                        help="a checkpoint, or 'oracle' for the exact E[x0|x_t] of --dataset/--mixture")
    add_data_options(sample, required=False)
    add_schedule_options(sample)
    add_sampler_options(sample)
    sample.add_argument("--seed", type=int,
                        help=_help("seed of the initial noise and every step", SamplerConfig, "seed"))
    sample.add_argument("--steps", type=int,
                        help="shapes models: length of the strided DDPM/DDIM chain, dividing T (default 100)")
    sample.add_argument("--trajectories", action="store_true",
                        help="also store every x_t (T+1, N, D) and x̂0 (T, N, D): large")
    sample.add_argument("--out", type=Path, required=True, metavar="SAMPLES.npz", help="file to write")
    add_threads_option(sample, 2)
    sample.set_defaults(func=cmd_sample)

    rep = sub.add_parser("reproduce", help="train, sample and print the paper's metrics as one JSON object",
                         description="Reproduce one of the paper's experiments on this machine (Gaussian: train "
                                     "and sample; Simple Shapes: sample the bundled model, or train with --train).")
    names = [*EXPERIMENT_NAMES, *SHAPES_PRESETS]
    rep.add_argument("experiment", choices=names, help="the paper experiment to run: " + ", ".join(names))
    rep.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    rep.add_argument("--sample-seed", type=int, default=1, dest="sample_seed", help="sampling seed (default 1)")
    rep.add_argument("--n", type=int, help="samples to draw (default 10,000; shapes: 2,048)")
    rep.add_argument("--recipe", choices=["cpu", "paper"], default="cpu",
                     help="cpu: about a minute on 2 cores (default); paper: the official 10,000 epochs (GPU)")
    rep.add_argument("--steps", type=int, help="override the recipe's training steps (reported in the output)")
    rep.add_argument("--save-model", type=Path, dest="save_model", metavar="MODEL.safetensors",
                     help="also write the trained checkpoint here")
    rep.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    rep.add_argument("--train", action="store_true",
                     help="shapes: train the preset here instead of sampling the bundled models/NAME.safetensors")
    rep.add_argument("--model", type=Path, metavar="MODEL.safetensors",
                     help="shapes: sample this checkpoint instead of the bundled one")
    rep.add_argument("--chain-steps", type=int, dest="chain_steps",
                     help="shapes: length of the strided DDPM chain, dividing T (default 100)")
    rep.add_argument("--oracle-n", type=int, dest="oracle_n", default=DEFAULT_ORACLE_N,
                     help=f"shapes: samples of the exact denoiser, same seed (default {DEFAULT_ORACLE_N}; "
                          "the same noise as the model's when equal to --n)")
    rep.add_argument("--samples-out", type=Path, dest="samples_out", metavar="SAMPLES.npz",
                     help="shapes: also write the sample set (bit-packed images, counts, labels, scores)")
    add_threads_option(rep, 2)
    rep.set_defaults(func=cmd_reproduce)


    add_analysis_commands(sub)

    serve = sub.add_parser("serve", help="start the web lab", description="Serve the lab with uvicorn.")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--ray", metavar="ADDRESS", default=None,
                       help="run training, analysis and sampling on this Ray cluster (host:port of its head, or "
                            "'auto' on a node of it); the same as MODELAB_RAY_ADDRESS")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(args, "threads"):
        if not 1 <= args.threads <= 64:
            parser.exit(EXIT_USAGE, f"modelab: error: --threads: must be 1 to 64, got {args.threads}\n")
        torch.set_num_threads(args.threads)
    try:
        return int(args.func(args))
    except UsageError as exc:
        parser.exit(EXIT_USAGE, f"modelab {args.command}: error: {exc}\n")
    except ValidationError as exc:
        parser.exit(EXIT_USAGE, f"modelab {args.command}: error: {describe_validation_error(exc)}\n")
    except OSError as exc:  # e.g. --out in a directory that cannot be created or written
        parser.exit(EXIT_USAGE, f"modelab {args.command}: error: {exc}\n")
    except KeyboardInterrupt:
        parser.exit(130, "modelab: interrupted\n")

