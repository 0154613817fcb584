"""What ``modelab``'s commands share: option groups, configs built from the options, bad input, JSON out.

Every option's default comes from the config models (``server/diffusion/config.py``,
``server/gaussian/config.py``); a bad value is a ``UsageError`` naming the option, printed as one line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import torch
from pydantic import BaseModel, ValidationError

from ..diffusion.checkpoint import CheckpointError
from ..diffusion.config import SamplerConfig, ScheduleConfig, TrainConfig
from ..diffusion.training import TrainProgress
from ..gaussian.config import DataConfig, ExperimentConfig, NetConfig
from ..gaussian.datasets import DATASET_DESCRIPTIONS, MixtureFileError, read_mixture_file
from ..shapes.presets import SHAPES_DESCRIPTIONS

EXIT_USAGE = 2
T = TypeVar("T")


class UsageError(Exception):
    """Bad input from the command line; printed as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _default(model: type[BaseModel], field: str) -> Any:
    return model.model_fields[field].default


def _help(text: str, model: type[BaseModel], field: str) -> str:
    return f"{text} (default {_default(model, field)})"


# ----------------------------------------------------------------------------- option groups


def add_data_options(parser: argparse.ArgumentParser, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    names = list(DATASET_DESCRIPTIONS) + list(SHAPES_DESCRIPTIONS)
    group.add_argument("--dataset", choices=names, help="a paper dataset: " + "; ".join(
        f"{k}: {v}" for k, v in {**DATASET_DESCRIPTIONS, **SHAPES_DESCRIPTIONS}.items()))
    group.add_argument("--mixture", type=Path, metavar="FILE",
                       help='custom mixture JSON: {"means": [[x, y], ...] or [x, ...], "sigma": s or [s_k, ...], '
                            '"weights": [...] (optional), "n": N}')
    parser.add_argument("--n-train", type=int, dest="n_train", metavar="N",
                        help="training-set size, overriding the dataset's N (10 to 200,000)")


def add_schedule_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--schedule", choices=["linear", "continuous"],
                        help=_help("linear: β linear over T (paper); continuous: the T=1000 ᾱ curve at any T",
                                   ScheduleConfig, "kind"))
    parser.add_argument("--T", type=int, dest="T", help=_help("diffusion steps, 1 to 4000", ScheduleConfig, "T"))


def add_train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, help=_help("optimiser steps", TrainConfig, "steps"))
    parser.add_argument("--batch", type=int, help=_help("batch size", TrainConfig, "batch"))
    parser.add_argument("--lr", type=float, help=_help("peak Adam learning rate", TrainConfig, "lr"))
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], dest="lr_schedule",
                        help=_help("learning-rate schedule after warm-up", TrainConfig, "lr_schedule"))
    parser.add_argument("--warmup", type=int, help=_help("linear warm-up steps", TrainConfig, "warmup"))
    parser.add_argument("--width", type=int, help=_help("network width", NetConfig, "width"))
    parser.add_argument("--blocks", type=int, help=_help("residual blocks", NetConfig, "blocks"))
    parser.add_argument("--untied", action="store_true",
                        help="independent residual blocks (the official code ties their weights)")
    parser.add_argument("--channels", metavar="C0,C1,...",
                        help="shapes U-Net channels per level, e.g. 16,32,64 (shapes datasets only; default: the "
                             "preset's)")


def add_sampler_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, help=_help("particles to sample", SamplerConfig, "n"))
    parser.add_argument("--sampler", choices=["ddpm", "ddim"], help=_help("reverse process", SamplerConfig, "sampler"))
    parser.add_argument("--eta", type=float, help=_help("DDIM noise (0 deterministic)", SamplerConfig, "eta"))
    parser.add_argument("--window", type=int,
                        help=_help("K: last reverse steps whose x̂0 variance is the detector", SamplerConfig, "window"))


def add_threads_option(parser: argparse.ArgumentParser, default: int) -> None:
    parser.add_argument("--threads", type=int, default=default,
                        help=f"torch CPU threads (default {default}; results are reproducible per thread count)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where the network runs (default cpu; cuda draws other random streams)")


def checked_device(args: argparse.Namespace) -> str:
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device: CUDA is not available on this machine")
    return str(args.device)


# ----------------------------------------------------------------------------- building configs


def _validated(model: type[BaseModel], values: dict[str, Any], flag_names: dict[str, str]) -> Any:
    """Build a config model, turning validation errors into one line that names the CLI options."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            flag = flag_names.get(loc[0], loc[0]) if loc else "value"
            problems.append(f"{flag}: {err['msg']}")
        raise UsageError("; ".join(problems)) from exc


def data_config(args: argparse.Namespace) -> DataConfig:
    if getattr(args, "mixture", None) is not None:
        try:
            spec = read_mixture_file(args.mixture)
        except MixtureFileError as exc:
            raise UsageError(str(exc)) from exc
        return _validated(DataConfig, {"dataset": "custom", "mixture": spec, "n": args.n_train}, {"n": "--n-train"})
    return _validated(DataConfig, {"dataset": args.dataset, "n": args.n_train}, {"n": "--n-train"})


def schedule_config(args: argparse.Namespace) -> ScheduleConfig:
    return _validated(ScheduleConfig, {"kind": args.schedule, "T": args.T}, {"kind": "--schedule", "T": "--T"})


def experiment_config(args: argparse.Namespace) -> ExperimentConfig:
    train_values = {k: getattr(args, k) for k in ("steps", "batch", "lr", "lr_schedule", "warmup", "seed")}
    flags = {k: "--" + k.replace("_", "-") for k in train_values}
    net_values = {"width": args.width, "blocks": args.blocks, "tied": False if args.untied else None}
    return ExperimentConfig(
        data=data_config(args),
        schedule=schedule_config(args),
        net=_validated(NetConfig, net_values, {"width": "--width", "blocks": "--blocks"}),
        train=_validated(TrainConfig, train_values, flags),
    )


def sampler_config(args: argparse.Namespace) -> SamplerConfig:
    values = {k: getattr(args, k) for k in ("n", "sampler", "eta", "window", "seed")}
    return _validated(SamplerConfig, values, {k: "--" + k for k in values})


def checkpoint_from(load: Callable[[Path], T], model: str) -> T:
    """``load(Path(model))`` with a bad or missing checkpoint reported as ``--model: ...``."""
    try:
        return load(Path(model))
    except CheckpointError as exc:
        raise UsageError(f"--model: {exc}") from exc


def require_suffix(path: Path, suffix: str) -> None:
    if path.suffix != suffix:
        raise UsageError(f"--out: expected a {suffix} path, got {path}")


def refuse_oracle_options(args: argparse.Namespace) -> None:
    """A checkpoint brings its own data and schedule: the options that choose them belong to ``--model oracle``."""
    given = [flag for flag, value in (("--dataset", args.dataset), ("--mixture", args.mixture),
                                      ("--n-train", args.n_train), ("--T", args.T), ("--schedule", args.schedule))
             if value is not None]
    if given:
        raise UsageError(f"{', '.join(given)}: these go with --model oracle; a checkpoint brings its own "
                         "dataset, N and schedule")


def follow_training(progress: Iterable[TrainProgress], quiet: bool) -> TrainProgress:
    """Drive a training generator to its end, a progress line on stderr per report unless ``quiet``; the last."""
    last = None
    for last in progress:
        if not quiet:
            print(f"step {last.step}/{last.steps}  loss {last.loss:.4f}  {last.elapsed:.1f}s", file=sys.stderr)
    assert last is not None
    return last


def _finite(value: Any) -> Any:
    """NaN and ±inf (e.g. an AUROC with no hallucinations) become null: strict JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def print_json(value: Any) -> None:
    print(json.dumps(_finite(value), allow_nan=False))
